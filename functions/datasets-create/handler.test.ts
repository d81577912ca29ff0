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
  t.equal(((await deps.store.collection('dataset').get('alice/mnist')) as { rom?: string } | null)?.rom, 'held');
  const big = await invoke(route, handle, deps, { path: '/api/v1/users/alice/datasets', headers, body: { name: 'cifar', size: 41 } });
  t.equal(big.status, 403);
  t.equal(await deps.store.collection('dataset').get('alice/cifar'), null);
});

t.test('at MLP_MAX_OBJECTS_PER_USER datasets (empty ones count) the next is refused, for that user only', async (t) => {
  const deps = await testDeps(t, { MLP_MAX_OBJECTS_PER_USER: '2' });
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  const create = (user: string, headers: Record<string, string>, name: string) => invoke(route, handle, deps, { path: `/api/v1/users/${user}/datasets`, headers, body: { name, size: 0 } });
  for (const name of ['a', 'b']) t.equal((await create('alice', alice, name)).status, 201);
  const third = await create('alice', alice, 'c');
  t.equal(third.status, 403);
  t.same(third.body, { msg: 'you have 2 datasets, the most one user may have; delete some first' });
  t.equal(await deps.store.collection('dataset').get('alice/c'), null);
  t.equal((await create('bob', bob, 'c')).status, 201);
});
