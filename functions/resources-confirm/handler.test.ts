import t from 'tap';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('confirms a try; a different applier is refused', async (t) => {
  const deps = await testDeps(t);
  await deps.resources.try({ id: 'c-1', applier: 'am', type: 'request', tenant: 'default', amounts: { cpu: 0, gpu: 1, ram: 0, rom: 0 } });
  const other = await invoke(route, handle, deps, { path: route.path, body: { id: 'c-1', applier: 'jm' }, headers: bearer(deps.serviceToken) });
  t.equal(other.status, 403);
  const ok = await invoke(route, handle, deps, { path: route.path, body: { id: 'c-1', applier: 'am' }, headers: bearer(deps.serviceToken) });
  t.equal(ok.status, 200);
  t.equal((await deps.resources.lookup('c-1'))?.entry.state, 'confirmed');
  t.same((await deps.resources.getTenant('default'))?.requests, {}, 'decided, it left the tenant document for the archive');
});
