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

t.test("another user's job that fits is admitted although an earlier one waits", async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '2' });
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  for (const user of ['alice', 'bob']) homeScript(deps, user, 'wait.mjs', 'setInterval(() => {}, 1000)');
  const submit = (user: string, headers: Record<string, string>, name: string, cpu: number) =>
    invoke(route, handle, deps, { path: `/api/v1/users/${user}/jobs`, headers, body: { name, entry: 'wait.mjs', cpu } });
  t.equal((await submit('bob', bob, 'one', 1)).status, 201);
  t.match((await submit('alice', alice, 'big', 2)).body, { state: 'creating', msg: /needs cpu 2; free cpu 1/ });
  const two = await submit('bob', bob, 'two', 1);
  t.notOk((two.body as { msg?: string }).msg, 'admitted at once');
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 2000);
  t.match(await deps.store.collection('job').get('alice/big'), { res: 'waiting', head_at: /^\d{4}-/ }, 'the waiting head knows since when');
});

t.test('at MLP_MAX_OBJECTS_PER_USER jobs the next is refused', async (t) => {
  const deps = await testDeps(t, { MLP_MAX_OBJECTS_PER_USER: '1', MLP_TENANT_CPU: '1' });
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'wait.mjs', 'setInterval(() => {}, 1000)');
  const submit = (name: string) => invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name, entry: 'wait.mjs', cpu: 0.5 } });
  t.equal((await submit('a')).status, 201);
  const b = await submit('b');
  t.equal(b.status, 403);
  t.same(b.body, { msg: 'you have 1 job, the most one user may have; delete some first' });
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 500, 'the refused job reserved nothing');
});
