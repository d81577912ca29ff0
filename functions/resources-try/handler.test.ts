import t from 'tap';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('reserves through the adapter with the service token only', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '2' });
  const body = { id: 'a-1', applier: 'jm', request_type: 'request', cpu: 1.25 };
  t.equal((await invoke(route, handle, deps, { path: route.path, body, headers: bearer('nope') })).status, 403);
  const ok = await invoke(route, handle, deps, { path: route.path, body, headers: bearer(deps.serviceToken) });
  t.same([ok.status, ok.body], [200, '']);
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 1250);
});
