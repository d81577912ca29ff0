import t from 'tap';
import { handle as create } from '../jobs-create/handler.js';
import createRoute from '../jobs-create/route.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { homeScript } from '../../test/helpers/jobs.js';
import { checkListPaging } from '../../test/helpers/paging.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test("lists the owner's jobs, oldest first", async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'x.mjs', '');
  for (const name of ['b', 'a']) await invoke(createRoute, create, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name, entry: 'x.mjs' } });
  const list = await invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs', headers });
  t.same(
    (list.body as { name: string }[]).map((j) => j.name),
    ['b', 'a'],
  );
});

t.test('pages with ?limit= and ?after=, a Link to the next while more remain', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'x.mjs', '');
  const names = ['e', 'd', 'c', 'b', 'a'];
  for (const name of names) await invoke(createRoute, create, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name, entry: 'x.mjs' } });
  await checkListPaging(t, route, handle, deps, '/api/v1/users/alice/jobs', headers, names);
  await checkListPaging(t, route, handle, deps, '/api/v1/users/alice/jobs', headers, names, 5);
});

t.test('waiting jobs carry their queue place and estimated wait; others carry none', async (t) => {
  let clock = new Date('2030-01-01T00:00:00.000Z');
  const deps = await testDeps(t, { MLP_TENANT_CPU: '1' }, { now: () => clock });
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  for (const user of ['alice', 'bob']) homeScript(deps, user, 'wait.mjs', 'setInterval(() => {}, 1000)');
  const submit = (user: string, headers: Record<string, string>, name: string, cpu: number) =>
    invoke(createRoute, create, deps, { path: `/api/v1/users/${user}/jobs`, headers, body: { name, entry: 'wait.mjs', cpu } });
  const first = await submit('alice', alice, 'first', 1);
  t.notOk((first.body as { queue?: unknown }).queue, 'an admitted job has no queue place');
  const b = await submit('alice', alice, 'b', 0.5);
  t.match(b.body, { state: 'creating', queue: { position: 1, eta_s: null } }, 'no estimate while the running job has no progress');
  await submit('alice', alice, 'c', 0.5);
  await submit('bob', bob, 'd', 0.5);
  // The running job reached 25 % in 100 s: 300 s left, a 400 s run (the typical one for the rest).
  const jobs = jobsCollection(deps.store);
  const doc = await jobs.get('alice/first');
  t.ok(await jobs.update('alice/first', { version: doc?.version ?? 0 }, { set: { state: 'running', progress: 25, running_at: clock.toISOString() } }));
  clock = new Date(clock.getTime() + 100_000);
  const list = async (user: string, headers: Record<string, string>) =>
    Object.fromEntries(((await invoke(route, handle, deps, { path: `/api/v1/users/${user}/jobs`, headers })).body as { name: string; queue?: unknown }[]).map((j) => [j.name, j.queue]));
  t.same(await list('alice', alice), { first: undefined, b: { position: 1, eta_s: 300 }, c: { position: 3, eta_s: 700 } }, "bob's first job goes between alice's two");
  t.same(await list('bob', bob), { d: { position: 2, eta_s: 300 } });
});
