import t from 'tap';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

// The whole path (a trained model, a ready app, a prediction) runs in test/browser/ui.test.ts.
t.test("checks the owner's token, the body and the app before predicting", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  const path = '/api/v1/users/alice/apps/iris:predict';
  const none = await invoke(route, handle, deps, { method: 'POST', path, body: { instances: [[1, 2, 3, 4]] } });
  t.equal(none.status, 403, 'no token');
  const forged = await invoke(route, handle, deps, { method: 'POST', path, headers: bearer('x.y.z'), body: { instances: [[1, 2, 3, 4]] } });
  t.equal(forged.status, 403, 'a bad token');
  const other = await invoke(route, handle, deps, { method: 'POST', path, headers: bob, body: { instances: [[1, 2, 3, 4]] } });
  t.equal(other.status, 403, "another user's token");
  t.notMatch(other.body, { msg: /not found/ }, 'with no hint whether the app exists');
  const empty = await invoke(route, handle, deps, { method: 'POST', path, headers: alice, body: {} });
  t.match(empty, { status: 403, body: { msg: /give "instances"/ } });
  const extra = await invoke(route, handle, deps, { method: 'POST', path, headers: alice, body: { instances: [], token: 'x' } });
  t.match(extra, { status: 403, body: { msg: /unknown field "token"/ } });
  const missing = await invoke(route, handle, deps, { method: 'POST', path, headers: alice, body: { instances: [[1, 2, 3, 4]] } });
  t.match(missing, { status: 403, body: { msg: 'app iris not found' } });
});
