import t from 'tap';
import { appsCollection } from '../../shared/repos/apps.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('the owner\'s app with the watcher\'s msg; not found and another user\'s token are 403 {msg}', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  // A ready app whose server the watcher is restarting: runtime fields stay internal, msg is shown.
  await appsCollection(deps.store).insert({ _id: 'alice/serve', uid: 'u1', name: 'serve', user: 'alice', tenant: 'default', model_name: 'iris', gpu: 0, cpu: 0.5, ram: 200, port: 31234, state: 'ready', res: 'held', launched: false, failures: 1, restart_at: new Date().toISOString(), msg: 'the model server stopped (it ended with exit code 1); restarting (failure 1 of 5)' });
  const got = await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps/serve', headers: alice });
  t.equal(got.status, 200);
  t.same(Object.keys(got.body as object).sort(), ['cpu', 'created_at', 'gpu', 'model_name', 'msg', 'name', 'port', 'ram', 'state', 'tenant', 'updated_at', 'user']);
  t.match(got.body, { name: 'serve', user: 'alice', model_name: 'iris', cpu: 0.5, ram: 200, gpu: 0, port: 31234, state: 'ready', msg: /restarting \(failure 1 of 5\)/ });
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps/nope', headers: alice })).body, { msg: 'app nope not found' });
  const foreign = await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps/serve', headers: bob });
  t.equal(foreign.status, 403);
  t.match(foreign.body, { msg: /belongs to bob/ });
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/bob/apps/serve', headers: bob })).body, { msg: 'app serve not found' });
});
