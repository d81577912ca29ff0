import t from 'tap';
import { datasetsCollection } from '../../shared/records/datasets.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as create } from '../datasets-create/handler.js';
import createRoute from '../datasets-create/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('finishes a deletion: record gone, rom back', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await invoke(createRoute, create, deps, { path: '/api/v1/users/alice/datasets', headers, body: { name: 'mnist', size: 10 } });
  await datasetsCollection(deps.store).update('alice/mnist', {}, { set: { state: 'deleting' } });
  t.equal((await deps.resources.getTenant('default'))?.inuse.rom, 10);
  const a = await invoke(route, handle, deps, { path: route.path, headers: bearer(deps.serviceToken) });
  t.match(a.body, { deleted: ['alice/mnist'] });
  t.equal(await deps.store.collection('dataset').get('alice/mnist'), null);
  t.equal((await deps.resources.getTenant('default'))?.inuse.rom, 0);
});
