import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { checkListPaging } from '../../test/helpers/paging.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as create } from '../datasets-create/handler.js';
import createRoute from '../datasets-create/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test("lists only the owner's datasets, oldest first", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  for (const name of ['b', 'a']) await invoke(createRoute, create, deps, { path: '/api/v1/users/alice/datasets', headers: alice, body: { name, size: 1 } });
  await invoke(createRoute, create, deps, { path: '/api/v1/users/bob/datasets', headers: bob, body: { name: 'c', size: 1 } });
  const list = await invoke(route, handle, deps, { path: '/api/v1/users/alice/datasets', headers: alice });
  t.same(
    (list.body as { name: string }[]).map((d) => d.name),
    ['b', 'a'],
  );
});

t.test('pages with ?limit= and ?after=, a Link to the next while more remain', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const names = ['e', 'd', 'c', 'b', 'a'];
  for (const name of names) await invoke(createRoute, create, deps, { path: '/api/v1/users/alice/datasets', headers: alice, body: { name, size: 1 } });
  await checkListPaging(t, route, handle, deps, '/api/v1/users/alice/datasets', alice, names);
});
