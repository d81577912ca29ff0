import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('creates with rom held; a refused try leaves no record', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_ROM: '100' });
  const headers = await userWithToken(deps, 'alice');
  const ok = await invoke(route, handle, deps, { path: '/api/v1/users/alice/datasets', headers, body: { name: 'mnist', size: 60 } });
  t.equal(ok.status, 201);
  t.equal((await deps.store.collection('dataset').get('alice/mnist') as { rom?: string } | null)?.rom, 'held');
  const big = await invoke(route, handle, deps, { path: '/api/v1/users/alice/datasets', headers, body: { name: 'cifar', size: 41 } });
  t.equal(big.status, 403);
  t.equal(await deps.store.collection('dataset').get('alice/cifar'), null);
});
