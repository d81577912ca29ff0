import type { AddressInfo } from 'node:net';
import t from 'tap';
import { createFaasServer } from '../../shared/http/server.js';
import { createRouter } from '../../shared/http/router.js';
import { datasetsCollection } from '../../shared/repos/datasets.js';
import { testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

// A stream route: one request through the template's server and adapter (no platform around it).
t.test('stores an upload into a creating dataset, within its size', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await datasetsCollection(deps.store).insert({ _id: 'alice/mnist', uid: 'u', name: 'mnist', user: 'alice', tenant: 'default', size: 4, state: 'creating', progress: 0, heartbeat_at: new Date().toISOString(), rom: 'held' });
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.equal((await fetch(`${base}/data/alice/mnist/a`, { method: 'PUT', headers, body: 'abcd' })).status, 201);
  const over = await fetch(`${base}/data/alice/mnist/b`, { method: 'PUT', headers, body: 'e' });
  t.equal(over.status, 403);
  t.match(await over.json(), { msg: /exceed dataset mnist's size of 4 bytes/ });
  t.same(await (await fetch(`${base}/data/alice/mnist/`, { headers })).json(), [{ path: 'a', size: 4 }]);
});
