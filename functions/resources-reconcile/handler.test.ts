import t from 'tap';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('expires tries older than MLP_TCC_TIMEOUT', async (t) => {
  let now = Date.now();
  const deps = await testDeps(t, { MLP_TCC_TIMEOUT: '5' }, { now: () => new Date(now) });
  await deps.resources.try({ id: 'old', applier: 'jm', type: 'request', tenant: 'default', amounts: { cpu: 500, gpu: 0, ram: 0, rom: 0 } });
  now += 6000;
  const a = await invoke(route, handle, deps, { path: route.path, headers: bearer(deps.serviceToken) });
  t.match(a.body, { expired: ['old'], archived: 1 });
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 0);
  t.same((await deps.resources.getTenant('default'))?.requests, {}, 'the expired try left the tenant document');
  t.match(await deps.resources.lookup('old'), { entry: { state: 'cancelled' } }, 'for the archive');
});
