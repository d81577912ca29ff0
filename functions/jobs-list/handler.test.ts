import t from 'tap';
import { handle as create } from '../jobs-create/handler.js';
import createRoute from '../jobs-create/route.js';
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
