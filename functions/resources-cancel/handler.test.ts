import t from 'tap';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('cancels and gives back; an unknown id leaves a tombstone', async (t) => {
  const deps = await testDeps(t);
  await deps.resources.try({ id: 'x-1', applier: 'dm', type: 'request', tenant: 'default', amounts: { cpu: 0, gpu: 0, ram: 0, rom: 9 } });
  const ok = await invoke(route, handle, deps, { path: route.path, body: { id: 'x-1', applier: 'dm' }, headers: bearer(deps.serviceToken) });
  t.equal(ok.status, 200);
  t.equal((await deps.resources.getTenant('default'))?.inuse.rom, 0);
  t.equal((await invoke(route, handle, deps, { path: route.path, body: { id: 'y-1', applier: 'dm' }, headers: bearer(deps.serviceToken) })).status, 200);
  t.match((await deps.resources.lookup('y-1'))?.entry, { type: 'tombstone', state: 'cancelled' });
  t.same((await deps.resources.getTenant('default'))?.requests, {}, 'both left the tenant document for the archive');
});
