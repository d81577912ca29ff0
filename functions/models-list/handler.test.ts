import t from 'tap';
import { modelsCollection, type ModelDoc } from '../../shared/records/models.js';
import type { New } from '../../shared/store/port.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { checkListPaging } from '../../test/helpers/paging.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

// Records as models-create leaves them when the rom confirm is refused (res 'none': no rom is owed).
const failedModel = (user: string, name: string): New<ModelDoc> => ({
  _id: `${user}/${name}`,
  uid: `${user}-${name}`,
  name,
  user,
  tenant: 'default',
  size: 10,
  src: 'train',
  state: 'error',
  res: 'none',
  msg: 'resource reservation failed: timed out',
});

t.test("lists only the owner's models, oldest first, without internal fields", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  const col = modelsCollection(deps.store);
  await col.insert(failedModel('alice', 'b'));
  await col.insert(failedModel('bob', 'c'));
  await col.insert(failedModel('alice', 'a'));
  const list = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models', headers: alice });
  t.equal(list.status, 200);
  t.same(
    (list.body as { name: string }[]).map((m) => m.name),
    ['b', 'a'],
  );
  t.same(Object.keys((list.body as object[])[0] ?? {}).sort(), ['created_at', 'msg', 'name', 'size', 'src', 'state', 'tenant', 'updated_at', 'user'], "the API's fields, none of res/uid/version");
  t.match((await invoke(route, handle, deps, { path: '/api/v1/users/bob/models', headers: bob })).body, [{ name: 'c', user: 'bob' }]);
  const foreign = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models', headers: bob });
  t.equal(foreign.status, 403);
  t.match(foreign.body, { msg: /belongs to bob/ });
});

t.test('pages with ?limit= and ?after=, a Link to the next while more remain', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const names = ['e', 'd', 'c', 'b', 'a'];
  for (const name of names) await modelsCollection(deps.store).insert(failedModel('alice', name));
  await modelsCollection(deps.store).insert(failedModel('bob', 'f'));
  await checkListPaging(t, route, handle, deps, '/api/v1/users/alice/models', alice, names);
});

t.test('a user without models gets []', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/models', headers: alice })).body, []);
});
