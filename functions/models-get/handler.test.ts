import t from 'tap';
import { modelsCollection } from '../../shared/records/models.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test("the owner's model; not found and another user's token are 403 {msg}", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  // As models-create leaves a model whose rom confirm was refused (res 'none': no rom is owed).
  await modelsCollection(deps.store).insert({
    _id: 'alice/iris',
    uid: 'u1',
    name: 'iris',
    user: 'alice',
    tenant: 'default',
    size: 10,
    src: 'train',
    state: 'error',
    res: 'none',
    msg: 'resource reservation failed: timed out',
  });
  const got = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models/iris', headers: alice });
  t.equal(got.status, 200);
  t.match(got.body, { name: 'iris', user: 'alice', tenant: 'default', size: 10, src: 'train', state: 'error', msg: 'resource reservation failed: timed out', created_at: String, updated_at: String });
  t.notOk('res' in (got.body as object) || 'uid' in (got.body as object) || 'version' in (got.body as object), 'no internal fields');
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/models/nope', headers: alice })).body, { msg: 'model nope not found' });
  const foreign = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models/iris', headers: bob });
  t.equal(foreign.status, 403);
  t.match(foreign.body, { msg: /belongs to bob/ });
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/bob/models/iris', headers: bob })).body, { msg: 'model iris not found' }, 'bob has no model of that name');
  t.match((await invoke(route, handle, deps, { path: '/api/v1/users/alice/models/Iris1', headers: alice })).body, { msg: /must match/ }, 'a bad name is 403');
});
