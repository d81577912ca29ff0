import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../shared/config/load.js';
import { createDeps } from '../../shared/wiring/deps.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import { appsCollection } from '../../shared/records/apps.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { readyModel } from '../../test/helpers/serving.js';
import { userWithToken } from '../../test/helpers/users.js';
import { runtimes } from '../../templates/runtimes.js';
import { handle as createApp } from '../apps-create/handler.js';
import createRoute from '../apps-create/route.js';
import { handle as deleteApp } from '../apps-delete/handler.js';
import deleteRoute from '../apps-delete/route.js';
import { handle as listApps } from '../apps-list/handler.js';
import listRoute from '../apps-list/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test("the owner's app with the watcher's msg; not found and another user's token are 403 {msg}", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  // A ready app whose server the watcher is restarting: runtime fields stay internal, msg is shown.
  await appsCollection(deps.store).insert({
    _id: 'alice/serve',
    uid: 'u1',
    name: 'serve',
    user: 'alice',
    tenant: 'default',
    model_name: 'iris',
    gpu: 0,
    cpu: 0.5,
    ram: 200,
    port: 31234,
    state: 'ready',
    res: 'held',
    launched: false,
    failures: 1,
    restart_at: new Date().toISOString(),
    msg: 'the model server stopped (it ended with exit code 1); restarting (failure 1 of 5)',
  });
  const got = await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps/serve', headers: alice });
  t.equal(got.status, 200);
  t.same(Object.keys(got.body as object).sort(), ['cpu', 'created_at', 'endpoint', 'gpu', 'model_name', 'msg', 'name', 'port', 'ram', 'state', 'tenant', 'updated_at', 'user']);
  t.match(got.body, { name: 'serve', user: 'alice', model_name: 'iris', cpu: 0.5, ram: 200, gpu: 0, port: 31234, state: 'ready', msg: /restarting \(failure 1 of 5\)/ });
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps/nope', headers: alice })).body, { msg: 'app nope not found' });
  const foreign = await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps/serve', headers: bob });
  t.equal(foreign.status, 403);
  t.match(foreign.body, { msg: /belongs to bob/ });
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/bob/apps/serve', headers: bob })).body, { msg: 'app serve not found' });
});

t.test('every App answer carries its endpoint from MLP_APP_URL of the moment, not from the record', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-unit-'));
  t.teardown(() => {
    endRecorded(path.join(root, 'orchestrator'));
    rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  });
  const open = async (env: Record<string, string>) => {
    const deps = await createDeps(loadConfig({ MLP_ROOT: root, ...env }), createLogger({ component: 'test', sinks: [memorySink()], level: 'debug' }), { runtimes });
    t.teardown(() => deps.close());
    return deps;
  };
  const answers = async (deps: Awaited<ReturnType<typeof open>>, headers: Record<string, string>) => {
    const path = '/api/v1/users/alice/apps';
    const got = await invoke(route, handle, deps, { path: `${path}/serve`, headers });
    const list = await invoke(listRoute, listApps, deps, { path, headers });
    return { got: (got.body as { endpoint?: string }).endpoint, list: (list.body as { endpoint?: string }[]).map((a) => a.endpoint) };
  };

  // Trailing slashes are stripped; a path on the URL is kept.
  const first = await open({ MLP_APP_URL: 'https://apps.example.com/mlp/' });
  const alice = await userWithToken(first, 'alice');
  await readyModel(first, alice, 'alice', 'iris');
  const created = await invoke(createRoute, createApp, first, { path: '/api/v1/users/alice/apps', headers: alice, body: { name: 'serve', model_name: 'iris', cpu: 0.1, ram: 100 } });
  t.equal(created.status, 201);
  t.equal((created.body as { endpoint?: string }).endpoint, 'https://apps.example.com/mlp/alice/serve', 'apps-create');
  t.same(await answers(first, alice), { got: 'https://apps.example.com/mlp/alice/serve', list: ['https://apps.example.com/mlp/alice/serve'] }, 'apps-get, apps-list');
  t.notOk('endpoint' in ((await appsCollection(first.store).get('alice/serve')) ?? {}), 'not stored: computed when answering');
  await first.close();

  // The same store under another MLP_APP_URL: the app made before answers the new one.
  const second = await open({ MLP_APP_URL: 'http://gw.internal:8080' });
  const again = bearer((await second.tokens.issue({ sub: 'alice', kind: 'user' })).token);
  t.same(await answers(second, again), { got: 'http://gw.internal:8080/alice/serve', list: ['http://gw.internal:8080/alice/serve'] }, 'a changed MLP_APP_URL shows in an app created before');
  await appsCollection(second.store).update('alice/serve', {}, { set: { state: 'ready' } });
  const deleted = await invoke(deleteRoute, deleteApp, second, { path: '/api/v1/users/alice/apps/serve', headers: again });
  t.match(deleted.body, { state: 'deleting', endpoint: 'http://gw.internal:8080/alice/serve' }, 'apps-delete');
  await second.close();

  // Unset: the local app gateway on MLP_APP_PORT.
  const third = await open({ MLP_APP_PORT: '35302' });
  const token = bearer((await third.tokens.issue({ sub: 'alice', kind: 'user' })).token);
  t.equal((await answers(third, token)).got, 'http://127.0.0.1:35302/alice/serve', 'the default: http://127.0.0.1:{MLP_APP_PORT}');
});
