import { existsSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { PORT_MAX, PORT_MIN } from '../../../shared/records/apps.js';
import { storagePaths } from '../../../shared/storage/paths.js';
import { call, type Answer } from '../../helpers/platform.js';
import { ckptOf, closeTo, endedJob, killServer, modelSettled, predictLocally, reconcile, ROWS, SERVER_RAM, serverPid, tinyModel, userOn } from '../../helpers/models.js';
import { until } from '../../helpers/poll.js';
import type { Target } from '../../helpers/target.js';

// docs/api.md#applications through HTTP with real model servers (child processes, or pods of a Deployment): ports,
// predictions through the app gateway, recovery from a killed server, error after repeated
// crashes, a restart of the platform while an app is creating, deletion.
function refused(t: Test, a: Answer, msg: RegExp) {
  t.equal(a.status, 403, `403 (got ${a.status} ${a.text})`);
  t.match(a.json, { msg });
}

export const APPS_ENV = { MLP_TENANT_CPU: '4', MLP_TENANT_RAM: '4000' };

export async function appsScenario(t: Test, p: Target): Promise<void> {
  const root = p.root;
  const token = await userOn(p, 'alice');
  const bob = await userOn(p, 'bob');
  const apps = (method: string, suffix = '', body?: unknown, as = token) => p.call(method, `/api/v1/users/alice/apps${suffix}`, { token: as, body });
  const app = async (name: string) => (await apps('GET', `/${name}`)).json as Record<string, unknown> & { state: string; port: number; msg?: string };
  const watch = () => reconcile(p, 'apps');
  const settled = (name: string, states = ['ready', 'error']) =>
    until(
      () => app(name),
      (a) => states.includes(a.state),
      `app ${name} reaching ${states.join('/')}`,
      { tries: 1200, ms: 100 },
    );
  const gone = (name: string) =>
    until(
      async () => (await apps('GET', `/${name}`)).status,
      (s) => s === 403,
      `app ${name} deleted`,
      { before: watch, tries: 600 },
    );
  const tenant = async () => (await p.call('GET', '/api/v1/tenants/default', { token })).json as { cpu_inuse: number; ram_inuse: number };
  const claims = async () => (await p.store.collection('app_port').find()).map((c) => Number(c._id));
  const predict = (name: string, body: unknown, as: string | null = token, model = 'iris') =>
    call(p.appUrl, 'POST', `/alice/${name}/v1/models/${model}:predict`, { ...(as === null ? {} : { token: as }), body });

  await endedJob(p, token, 'alice', 'train');
  const model = await tinyModel(ckptOf(p, 'alice', 'train'));
  t.equal((await p.call('POST', '/api/v1/users/alice/models', { token, body: { name: 'iris', src: 'train' } })).status, 201);
  t.match(await modelSettled(p, token, 'alice', 'iris'), { state: 'ready' });

  t.test('refused creates change nothing', async (t) => {
    refused(t, await apps('POST', '', { name: 'a', model_name: 'nope' }), /model nope not found/);
    refused(t, await apps('POST', '', { name: 'app1', model_name: 'iris' }), /"name" must match/);
    refused(t, await apps('POST', '', { name: 'a', model_name: 'iris', port: 31000 }), /unknown field "port"/);
    refused(t, await apps('POST', '', { name: 'a', model_name: 'iris', cpu: 0.05 }), /"cpu" must be >= 0\.1/);
    refused(t, await apps('POST', '', { name: 'a', model_name: 'iris', cpu: '1' }), /"cpu" must be a number/);
    refused(t, await apps('POST', '', { name: 'a', model_name: 'iris', gpu: 1.5 }), /"gpu" must be an integer/);
    refused(t, await apps('POST', '', { name: 'a', model_name: 'iris', cpu: 5 }), /needs cpu 5/);
    refused(t, await apps('POST', '', { name: 'a', model_name: 'iris' }, bob), /belongs to bob/);
    refused(t, await p.call('POST', '/api/v1/users/bob/apps', { token: bob, body: { name: 'a', model_name: 'iris' } }), /model iris not found/);
    t.same((await apps('GET')).json, []);
    t.same(await claims(), [], 'no port stayed claimed');
    t.match(await tenant(), { cpu_inuse: 0, ram_inuse: 0 });
  });

  t.test("an app serves the model's own predictions through the app gateway, rows and columns", async (t) => {
    const created = await apps('POST', '', { name: 'serve', model_name: 'iris', cpu: 0.5, ram: SERVER_RAM });
    t.equal(created.status, 201);
    const port = (created.json as { port: number }).port;
    t.match(created.json, { name: 'serve', user: 'alice', tenant: 'default', model_name: 'iris', cpu: 0.5, gpu: 0, ram: SERVER_RAM, state: 'creating' });
    t.equal((created.json as { endpoint?: string }).endpoint, `${p.appUrl}/alice/serve`, "the app's endpoint: where the app gateway under test serves it");
    t.ok(port >= PORT_MIN && port <= PORT_MAX, `port ${port} in ${PORT_MIN}–${PORT_MAX}`);
    t.match(await tenant(), { cpu_inuse: 0.5, ram_inuse: SERVER_RAM });
    const serving = await settled('serve');
    t.match(serving, { state: 'ready', port }, `app serve is ready (msg: ${serving.msg ?? 'none'})`);

    const want = predictLocally(model, ROWS);
    const rows = await predict('serve', { instances: ROWS });
    t.equal(rows.status, 200, rows.text);
    t.ok(closeTo((rows.json as { predictions: number[][] }).predictions, want), "row form: the predictions are the model's own");
    const cols = await predict('serve', { inputs: ROWS });
    t.equal(cols.status, 200, cols.text);
    t.ok(closeTo((cols.json as { outputs: number[][] }).outputs, want), "columnar form: the outputs are the model's own");
    const status = await call(p.appUrl, 'GET', '/alice/serve/v1/models/iris', { token });
    t.match(status.json, { model_version_status: [{ state: 'AVAILABLE' }] });
    // The Open Inference Protocol (KServe v2) on the same app, through the same gateway.
    const v2 = await call(p.appUrl, 'GET', '/alice/serve/v2/models/iris', { token });
    t.match(v2, { status: 200, json: { name: 'iris', platform: 'tensorflowjs_layers', inputs: [{ datatype: 'FP32', shape: [-1, 4] }] } });
    const input = (v2.json as { inputs?: { name: string }[] }).inputs?.[0]?.name;
    const inferred = await call(p.appUrl, 'POST', '/alice/serve/v2/models/iris/infer', { token, body: { inputs: [{ name: input, shape: [ROWS.length, 4], datatype: 'FP32', data: ROWS.flat() }] } });
    t.equal(inferred.status, 200, inferred.text);
    const out = (inferred.json as { outputs: { shape: number[]; data: number[] }[] }).outputs[0];
    const width = out?.shape[1] ?? 0;
    t.ok(
      closeTo(
        ROWS.map((_, i) => out?.data.slice(i * width, (i + 1) * width) ?? []),
        want,
      ),
      "infer: the model's own outputs, row-major",
    );

    refused(t, await predict('serve', { instances: [[1, 2]] }), /./);
    refused(t, await predict('serve', { instances: [] }), /./);
    refused(t, await predict('serve', { instances: ROWS }, null), /missing token/);
    refused(t, await predict('serve', { instances: ROWS }, bob), /belongs to bob/);
    refused(t, await predict('nope', { instances: ROWS }), /app nope not found/);
    refused(t, await call(p.appUrl, 'GET', '/alice', { token }), /use \/\{user\}\/\{app\}/);
    refused(t, await call(p.appUrl, 'GET', '/Alice/serve/v1/models/iris', { token }), /is not \/\{user\}\/\{app\}/);
  });

  t.test('a killed server is restarted; the app stays ready and serves again', async (t) => {
    const { port } = await app('serve');
    const pid = killServer(port);
    const states = new Set<string>();
    await until(
      async () => {
        states.add((await app('serve')).state);
        const r = await predict('serve', { instances: ROWS });
        return r.status === 200 && serverPid(port) !== pid;
      },
      Boolean,
      'serving again after SIGKILL',
      { tries: 300, ms: 100 },
    );
    t.same([...states], ['ready'], 'the app stayed ready throughout');
    t.not(serverPid(port), pid, 'a new server process serves');
  });

  t.test('repeated crashes end in error with the reason', async (t) => {
    const { port } = await app('serve');
    const dir = storagePaths(root).model('alice', 'iris');
    // The server can no longer load its model (a model.json that is not JSON): each restart fails.
    renameSync(path.join(dir, 'model.json'), path.join(dir, 'model.json.away'));
    writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": ');
    t.teardown(() => renameSync(path.join(dir, 'model.json.away'), path.join(dir, 'model.json')));
    killServer(port);
    const failed = await settled('serve', ['error']);
    t.match(failed, { state: 'error', msg: /the model server failed 5 times in a row; last: it ended with exit code \d+/ });
    t.match(failed.msg, /model\.json/, 'the reason names what the server could not load');
    refused(t, await predict('serve', { instances: ROWS }), /app serve is error; it serves once it is ready/);
    t.equal(serverPid(port), undefined, 'no server runs for an app in error');
  });

  t.test('deletion stops the server, frees the port and gives resources back exactly once', async (t) => {
    const { port } = await app('serve');
    t.ok((await claims()).includes(port));
    t.match((await apps('DELETE', '/serve')).json, { state: 'deleting' });
    t.match((await apps('DELETE', '/serve')).json, { state: 'deleting' }, 'idempotent');
    await gone('serve');
    for (let i = 0; i < 3; i++) await watch();
    t.same(await claims(), [], 'the port is free');
    t.match(await tenant(), { cpu_inuse: 0, ram_inuse: 0 }, 'exactly what it held was released');
    t.notOk(existsSync(storagePaths(root).app('alice', 'serve')), 'its folder is gone');
    refused(t, await apps('DELETE', '/serve'), /app serve not found/);
  });

  t.test('20 concurrent creates get 20 different ports; ports stay unique across a restart', async (t) => {
    const names = Array.from({ length: 20 }, (_, i) => `c${String.fromCharCode(97 + i)}`);
    const answers = await Promise.all(names.map((name) => apps('POST', '', { name, model_name: 'iris', cpu: 0.1, ram: 100 })));
    t.same(
      answers.map((a) => a.status),
      names.map(() => 201),
      'all created',
    );
    const ports = answers.map((a) => (a.json as { port: number }).port);
    t.equal(new Set(ports).size, 20, 'every port differs');
    t.same((await claims()).sort(), [...ports].sort(), 'each app holds its claim');
    t.match(await tenant(), { cpu_inuse: 2, ram_inuse: 2000 });

    await p.restart();
    const more = await Promise.all(['xa', 'xb', 'xc'].map((name) => apps('POST', '', { name, model_name: 'iris', cpu: 0.1, ram: 100 })));
    const after = more.map((a) => (a.json as { port: number }).port);
    t.equal(new Set([...ports, ...after]).size, 23, 'apps created after the restart get ports no live app has');
    for (const name of [...names, 'xa', 'xb', 'xc']) await settled(name);
    for (const name of [...names, 'xa', 'xb', 'xc']) t.equal((await apps('DELETE', `/${name}`)).status, 200);
    for (const name of [...names, 'xa', 'xb', 'xc']) await gone(name);
    t.same(await claims(), []);
    t.match(await tenant(), { cpu_inuse: 0, ram_inuse: 0 });
  });

  t.test('the platform stopped while an app is creating: after a restart it becomes ready', async (t) => {
    t.equal((await apps('POST', '', { name: 'early', model_name: 'iris', cpu: 0.1, ram: SERVER_RAM })).status, 201);
    t.equal((await app('early')).state, 'creating');
    await p.restart();
    const early = await settled('early');
    t.match(early, { state: 'ready' }, `app early is ready (msg: ${early.msg ?? 'none'})`);
    const r = await predict('early', { instances: ROWS });
    t.equal(r.status, 200, r.text);
    await apps('DELETE', '/early');
    await gone('early');
    t.match(await tenant(), { cpu_inuse: 0, ram_inuse: 0 });
  });
}
