import t from 'tap';
import { appsCollection, type AppDoc } from '../../shared/records/apps.js';
import type { New } from '../../shared/store/port.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { checkListPaging } from '../../test/helpers/paging.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

// Records as apps-create leaves them when the resources' confirm is refused (res 'none': nothing is owed).
const failedApp = (user: string, name: string, port: number): New<AppDoc> => ({
  _id: `${user}/${name}`,
  uid: `${user}-${name}`,
  name,
  user,
  tenant: 'default',
  model_name: 'iris',
  gpu: 0,
  cpu: 1,
  ram: 1000,
  port,
  state: 'error',
  res: 'none',
  msg: 'resource reservation failed: timed out',
});

t.test("lists only the owner's apps, oldest first, without internal fields", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  const col = appsCollection(deps.store);
  await col.insert(failedApp('alice', 'b', 31001));
  await col.insert(failedApp('bob', 'c', 31002));
  await col.insert(failedApp('alice', 'a', 31003));
  const list = await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps', headers: alice });
  t.equal(list.status, 200);
  t.match(list.body, [
    { name: 'b', port: 31001 },
    { name: 'a', port: 31003 },
  ]);
  t.equal((list.body as unknown[]).length, 2);
  t.same(
    Object.keys((list.body as object[])[0] ?? {}).sort(),
    ['cpu', 'created_at', 'endpoint', 'gpu', 'model_name', 'msg', 'name', 'port', 'ram', 'state', 'tenant', 'updated_at', 'user'],
    "the API's fields, none of uid/res/version",
  );
  const foreign = await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps', headers: bob });
  t.equal(foreign.status, 403);
  t.match(foreign.body, { msg: /belongs to bob/ });
  t.match((await invoke(route, handle, deps, { path: '/api/v1/users/bob/apps', headers: bob })).body, [{ name: 'c', user: 'bob' }]);
});

t.test('pages with ?limit= and ?after=, a Link to the next while more remain', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const names = ['e', 'd', 'c', 'b', 'a'];
  for (const [i, name] of names.entries()) await appsCollection(deps.store).insert(failedApp('alice', name, 31100 + i));
  await appsCollection(deps.store).insert(failedApp('bob', 'f', 31200));
  await checkListPaging(t, route, handle, deps, '/api/v1/users/alice/apps', alice, names);
});

t.test('a user without apps gets []', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps', headers: alice })).body, []);
});
