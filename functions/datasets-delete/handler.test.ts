import t from 'tap';
import { datasetsCollection } from '../../shared/records/datasets.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as create } from '../datasets-create/handler.js';
import createRoute from '../datasets-create/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('creating cannot be deleted; error can, idempotently', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await invoke(createRoute, create, deps, { path: '/api/v1/users/alice/datasets', headers, body: { name: 'mnist', size: 1 } });
  const path = '/api/v1/users/alice/datasets/mnist';
  t.match((await invoke(route, handle, deps, { path, headers })).body, { msg: /is creating/ });
  await datasetsCollection(deps.store).update('alice/mnist', {}, { set: { state: 'error' } });
  t.match((await invoke(route, handle, deps, { path, headers })).body, { state: 'deleting' });
  t.match((await invoke(route, handle, deps, { path, headers })).body, { state: 'deleting' });
});
