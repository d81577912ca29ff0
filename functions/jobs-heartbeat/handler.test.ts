import t from 'tap';
import { jobsCollection } from '../../shared/repos/jobs.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('creating -> running -> finished by heartbeat, with the job\'s own token', async (t) => {
  const deps = await testDeps(t);
  await userWithToken(deps, 'alice');
  await jobsCollection(deps.store).insert({ _id: 'alice/train', uid: 'u1', name: 'train', user: 'alice', tenant: 'default', runtime: 'tf', entry: 'x.mjs', gpu: 0, cpu: 1, ram: 100, state: 'creating', progress: 0, res: 'held' });
  const headers = bearer((await deps.tokens.issue({ sub: 'alice', kind: 'job', job: 'train', job_id: 'u1' })).token);
  const path = '/api/v1/users/alice/jobs/train:heartbeat';
  t.equal((await invoke(route, handle, deps, { path, headers, body: { state: 'running', progress: 10 } })).status, 200);
  t.equal((await invoke(route, handle, deps, { path, headers, body: { state: 'finished', progress: 90 } })).status, 200);
  t.match(await jobsCollection(deps.store).get('alice/train'), { state: 'finished', progress: 100 });
  t.equal((await invoke(route, handle, deps, { path, headers, body: { state: 'running', progress: 1 } })).status, 403);
});
