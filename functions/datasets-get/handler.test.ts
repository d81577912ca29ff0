import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('not found and bad names are 403 {msg}', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/datasets/mnist', headers })).body, { msg: 'dataset mnist not found' });
  t.match((await invoke(route, handle, deps, { path: '/api/v1/users/alice/datasets/..', headers })).body, { msg: /name "\.\." must match/ });
});
