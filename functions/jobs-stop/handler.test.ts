import t from 'tap';
import { jobsCollection } from '../../shared/records/jobs.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('a queued job stops without ever holding resources', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await jobsCollection(deps.store).insert({
    _id: 'alice/q',
    uid: 'u1',
    name: 'q',
    user: 'alice',
    tenant: 'default',
    runtime: 'tf',
    entry: 'x.mjs',
    gpu: 0,
    cpu: 1,
    ram: 100,
    state: 'creating',
    progress: 0,
    res: 'waiting',
  });
  const a = await invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs/q:stop', headers, body: {} });
  t.match(a.body, { state: 'error', msg: 'stopped by user' });
  t.equal((await jobsCollection(deps.store).get('alice/q'))?.res, 'none');
});
