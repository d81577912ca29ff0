import t from 'tap';
import { appsCollection } from '../../shared/records/apps.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { readyModel } from '../../test/helpers/serving.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as createApp } from '../apps-create/handler.js';
import createRoute from '../apps-create/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('a ready app answers its upstream; creating, error and deleting apps do not serve', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  await readyModel(deps, alice, 'alice', 'iris');
  const created = await invoke(createRoute, createApp, deps, { path: '/api/v1/users/alice/apps', headers: alice, body: { name: 'serve', model_name: 'iris', cpu: 0.1, ram: 100 } });
  const port = (created.body as { port: number }).port;
  const endpoint = (headers = alice, name = 'serve') => invoke(route, handle, deps, { path: `/api/v1/users/alice/apps/${name}/endpoint`, headers });
  const col = appsCollection(deps.store);

  const creating = await endpoint();
  t.equal(creating.status, 403);
  t.same(creating.body, { msg: 'app serve is creating; it serves once it is ready' });
  t.notOk('x-mlp-app-upstream' in creating.headers, 'no upstream for an app that does not serve');

  // The app watcher's write once the server answers its health check (no server is run here).
  await col.update('alice/serve', {}, { set: { state: 'ready', launched: true } });
  const ready = await endpoint();
  t.equal(ready.status, 200);
  t.equal(ready.headers['x-mlp-app-upstream'], `127.0.0.1:${port}`);
  t.equal(ready.body, '', 'the body is empty (nginx keeps the connection alive then)');
  t.equal(ready.headers['x-accel-expires'], '5', 'the Nginx app gateway may keep it 5 s');
  t.notOk('x-accel-expires' in creating.headers, 'a refusal is not to be kept');

  const foreign = await endpoint(bob);
  t.equal(foreign.status, 403);
  t.match(foreign.body, { msg: /belongs to bob/ });
  t.notOk('x-mlp-app-upstream' in foreign.headers, "another user's token learns nothing");
  t.same((await endpoint(alice, 'nope')).body, { msg: 'app nope not found' });

  for (const state of ['error', 'deleting'] as const) {
    await col.update('alice/serve', {}, { set: { state } });
    const a = await endpoint();
    t.equal(a.status, 403, state);
    t.same(a.body, { msg: `app serve is ${state}; it serves once it is ready` });
  }
});

t.test('a token about to expire is kept no longer than it lives, one that expires in under a second not at all', async (t) => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const deps = await testDeps(t, {}, { now: () => new Date(now) });
  const alice = await userWithToken(deps, 'alice');
  await readyModel(deps, alice, 'alice', 'iris');
  await invoke(createRoute, createApp, deps, { path: '/api/v1/users/alice/apps', headers: alice, body: { name: 'serve', model_name: 'iris', cpu: 0.1, ram: 100 } });
  await appsCollection(deps.store).update('alice/serve', {}, { set: { state: 'ready', launched: true } });
  const { token, claims } = await deps.tokens.issue({ sub: 'alice', kind: 'user' }, 10);
  const keep = async () => (await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps/serve/endpoint', headers: { authorization: `Bearer ${token}` } })).headers['x-accel-expires'];
  t.equal(await keep(), '5');
  now = claims.exp * 1000 - 3500;
  t.equal(await keep(), '3', '3.5 s left: kept 3 s');
  now = claims.exp * 1000 - 500;
  t.equal(await keep(), undefined, '0.5 s left: not kept');
});
