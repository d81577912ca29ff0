import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as create } from '../datasets-create/handler.js';
import createRoute from '../datasets-create/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('creating -> ready sets progress 100; no heartbeat after', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await invoke(createRoute, create, deps, { path: '/api/v1/users/alice/datasets', headers, body: { name: 'mnist', size: 1 } });
  const path = '/api/v1/users/alice/datasets/mnist:heartbeat';
  t.equal((await invoke(route, handle, deps, { path, headers, body: { state: 'ready', progress: 50 } })).status, 200);
  t.match(await deps.store.collection('dataset').get('alice/mnist'), { state: 'ready', progress: 100 });
  t.equal((await invoke(route, handle, deps, { path, headers, body: { state: 'creating', progress: 50 } })).status, 403);
});
