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

t.test('COPY and MOVE stay within one dataset or home, under the rules of PUT', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const insert = (name: string, size: number, state: 'creating' | 'ready') =>
    datasetsCollection(deps.store).insert({ _id: `alice/${name}`, uid: name, name, user: 'alice', tenant: 'default', size, state, progress: 0, heartbeat_at: new Date().toISOString(), rom: 'held' });
  await insert('mnist', 10, 'creating');
  await insert('other', 100, 'creating');
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dav = (method: string, path: string, extra: Record<string, string> = {}, body?: string) => fetch(`${base}${path}`, { method, headers: { ...headers, ...extra }, body });
  const msg = async (r: Response) => ((await r.json()) as { msg: string }).msg;
  t.equal((await dav('PUT', '/data/alice/mnist/a', {}, 'abcd')).status, 201);
  t.equal((await dav('COPY', '/data/alice/mnist/a', { destination: `${base}/data/alice/mnist/b` })).status, 201, 'a copy');
  const over = await dav('COPY', '/data/alice/mnist/a', { destination: '/data/alice/mnist/c' });
  t.equal(over.status, 403);
  t.match(await msg(over), /exceed dataset mnist's size of 10 bytes/, 'a copy counts against the size');
  const across = await dav('COPY', '/data/alice/mnist/a', { destination: '/data/alice/other/a' });
  t.match([across.status, await msg(across)], [403, /within one dataset or home/]);
  const foreign = await dav('MOVE', '/data/alice/mnist/a', { destination: '/data/bob/.home/a' });
  t.match([foreign.status, await msg(foreign)], [403, /stays within \/data\/alice/]);
  const keep = await dav('MOVE', '/data/alice/mnist/a', { destination: '/data/alice/mnist/b', overwrite: 'F' });
  t.match([keep.status, await msg(keep)], [403, /exists and Overwrite is F/]);
  t.equal((await dav('MOVE', '/data/alice/mnist/a', { destination: '/data/alice/mnist/b' })).status, 204, 'a move replaces');
  t.same(await (await dav('GET', '/data/alice/mnist/')).json(), [{ path: 'b', size: 4 }]);
  t.equal((await dav('MKCOL', '/data/alice/mnist/x/y')).status, 201, 'MKCOL makes missing folders above, as PUT does (rclone needs it: 403 is final for it)');
  t.match(await msg(await dav('MKCOL', '/data/alice/mnist/x/y')), /already exists/);
  t.match(await msg(await dav('MKCOL', '/data/alice/mnist/z', {}, '<x/>')), /takes no request body/);
  await insert('done', 100, 'ready');
  t.match(await msg(await dav('COPY', '/data/alice/done/a', { destination: '/data/alice/done/b' })), /is ready; files can be written only while it is creating/);
});
