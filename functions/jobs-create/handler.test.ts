import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { homeScript } from '../../test/helpers/jobs.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('admits a job that fits and queues one that does not', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '1' });
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'wait.mjs', 'setInterval(() => {}, 1000)');
  const path = '/api/v1/users/alice/jobs';
  t.equal((await invoke(route, handle, deps, { path, headers, body: { name: 'a', entry: 'wait.mjs', cpu: 1 } })).status, 201);
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 1000);
  const queued = await invoke(route, handle, deps, { path, headers, body: { name: 'b', entry: 'wait.mjs', cpu: 0.5 } });
  t.match(queued.body, { state: 'creating', msg: /waiting for resources/ });
});
