import t from 'tap';
import { jobsCollection } from '../../shared/records/jobs.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('only finished or error jobs can be deleted', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const base = { user: 'alice', tenant: 'default', runtime: 'tf' as const, entry: 'x.mjs', gpu: 0, cpu: 1, ram: 100, progress: 0, res: 'released' as const };
  await jobsCollection(deps.store).insert({ ...base, _id: 'alice/run', uid: 'u1', name: 'run', state: 'running' });
  await jobsCollection(deps.store).insert({ ...base, _id: 'alice/done', uid: 'u2', name: 'done', state: 'finished' });
  t.match((await invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs/run', headers })).body, { msg: /is running/ });
  t.match((await invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs/done', headers })).body, { state: 'deleting' });
});
