import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('any user sees the tenant, without the ledger', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_RAM: '5000' });
  const headers = await userWithToken(deps, 'alice');
  const a = await invoke(route, handle, deps, { path: '/api/v1/tenants/default', headers });
  t.match(a.body, { name: 'default', ram: 5000, ram_inuse: 0 });
  t.notOk('requests' in (a.body as object), 'the requests stay internal');
  t.same((await invoke(route, handle, deps, { path: '/api/v1/tenants/nope', headers })).body, { msg: 'tenant nope not found' });
});
