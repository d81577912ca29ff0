import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { appsCollection, type AppDoc } from '../../shared/records/apps.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { requestUpstream } from '../../shared/apps/upstream.js';
import { predictLocally, SERVER_RAM } from '../../test/helpers/models.js';
import { until } from '../../test/helpers/poll.js';
import { inUse, portClaims, readyModel } from '../../test/helpers/serving.js';
import { checkEpochOf, userWithToken } from '../../test/helpers/users.js';
import { handle as createApp } from '../apps-create/handler.js';
import createRoute from '../apps-create/route.js';
import { handle as deleteApp } from '../apps-delete/handler.js';
import deleteRoute from '../apps-delete/route.js';
import { handle } from './handler.js';
import route from './route.js';

type Summary = Record<'started' | 'ready' | 'restarting' | 'failed' | 'deleted' | 'settled' | 'errors', string[]>;
const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
];
const close = (a: number[][], b: number[][]) => a.length === b.length && a.every((row, i) => row.length === b[i]?.length && row.every((v, j) => Math.abs(v - (b[i]?.[j] ?? NaN)) < 1e-5));

// A real model server (a child process of the local orchestrator) for a real tfjs model.
t.test("the app watcher's pass", async (t) => {
  // The clock moves forward only to skip a failed server's backoff (last subtest).
  let offset = 0;
  const deps = await testDeps(t, { MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '1000' }, { now: () => new Date(Date.now() + offset) });
  const alice = await userWithToken(deps, 'alice');
  const { model } = await readyModel(deps, alice, 'alice', 'iris');
  const col = appsCollection(deps.store);
  const pass = async () => {
    const a = await invoke(route, handle, deps, { path: route.path, headers: bearer(deps.serviceToken) });
    if (a.status !== 200) throw new Error(`watch pass answered ${a.status} ${JSON.stringify(a.body)}`);
    return a.body as Summary;
  };
  const create = async (name: string, cpu: number, ram: number, model_name = 'iris') => {
    const a = await invoke(createRoute, createApp, deps, { path: '/api/v1/users/alice/apps', headers: alice, body: { name, model_name, cpu, ram } });
    if (a.status !== 201) throw new Error(`app ${name}: ${JSON.stringify(a.body)}`);
    return (a.body as { port: number }).port;
  };
  const port = await create('serve', 0.5, SERVER_RAM);
  // An app whose server failed for good holds its resources until deleted; the watcher leaves it be.
  const idlePort = await create('idle', 0.25, 100);
  await col.update('alice/idle', {}, { set: { state: 'error', msg: 'the model server failed 5 times in a row; last: it ended with exit code 1' } });
  // Where the app gateway reaches the server (locally a Unix socket in a sandbox, or the port).
  const server = async () => deps.orchestrator.endpoint(((await col.get('alice/serve')) as AppDoc).uid, port);

  await t.test("starts a creating app's model server and, once it is healthy, marks the app ready", async (t) => {
    const first = await pass();
    t.same(first.started, ['alice/serve'], 'the creating app is started; the app in error is not');
    t.match(await col.get('alice/serve'), { launched: true, started_at: String });
    const ready = await until(
      () => col.get('alice/serve'),
      (a) => a?.state !== 'creating',
      'app serve leaving creating',
      { before: pass, tries: 1200, ms: 100 },
    );
    t.match(ready, { state: 'ready', port, launched: true, serving_since: String });
    t.notOk(ready?.msg, 'no msg on a healthy app');
    const answer = await requestUpstream(await server(), {
      method: 'POST',
      path: '/v1/models/iris:predict',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ instances: ROWS }),
      timeoutMs: 30_000,
    });
    t.equal(answer.status, 200);
    t.ok(close((JSON.parse(answer.text) as { predictions: number[][] }).predictions, predictLocally(model, ROWS)), "the server answers the model's own predictions where the gateway reaches it");
    const again = await pass();
    t.same([...again.started, ...again.ready, ...again.restarting, ...again.failed, ...again.errors], [], 'a pass over a healthy app changes nothing');
    const idle = await col.get('alice/idle');
    t.equal(idle?.state, 'error');
    t.notOk(idle?.launched, 'the app in error was never started');
  });

  await t.test("a deleting app's passes stop its server and free its port and resources exactly once", async (t) => {
    t.same(
      await portClaims(deps),
      [port, idlePort].sort((a, b) => a - b),
    );
    t.match(await inUse(deps), { cpu: 0.75, ram: SERVER_RAM + 100 });
    const upstream = await server();
    t.match((await invoke(deleteRoute, deleteApp, deps, { path: '/api/v1/users/alice/apps/serve', headers: alice })).body, { state: 'deleting' });
    const passes = [...(await Promise.all([pass(), pass()])), await pass()];
    t.same(
      passes.flatMap((p) => p.deleted),
      ['alice/serve'],
      'finished by exactly one pass',
    );
    t.same(
      passes.flatMap((p) => p.errors),
      [],
    );
    t.equal(await col.get('alice/serve'), null, 'the record is gone');
    t.same(await portClaims(deps), [idlePort], 'its port is free; the other app keeps its own');
    t.match(await inUse(deps), { cpu: 0.25, ram: 100, gpu: 0 }, 'exactly its own resources were released, once');
    t.notOk(existsSync(storagePaths(deps.config.root).app('alice', 'serve')), 'its folder is gone');
    await t.rejects(requestUpstream(upstream, { method: 'GET', path: '/health', headers: {}, timeoutMs: 5000 }), 'its model server no longer listens');
    t.match((await col.get('alice/idle')) as AppDoc, { state: 'error', res: 'held' });
  });

  await t.test('a server that cannot load its model is restarted with backoff, then the app ends in error with the reason', async (t) => {
    await readyModel(deps, alice, 'alice', 'gone');
    const dir = storagePaths(deps.config.root).model('alice', 'gone');
    // A model.json that is not JSON: a load that fails (retried), unlike a folder without model files.
    renameSync(path.join(dir, 'model.json'), path.join(dir, 'model.json.away'));
    writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": ');
    const brokenPort = await create('broken', 0.25, SERVER_RAM, 'gone');
    const seen = new Set<string>();
    const failed = await until(
      () => col.get('alice/broken'),
      (a) => a?.state !== 'creating',
      'app broken leaving creating',
      {
        tries: 1200,
        ms: 100,
        before: async () => {
          const a = await col.get('alice/broken');
          if (a?.msg) seen.add(a.msg.replace(/\(failure \d of 5\)/, '(failure n of 5)'));
          // Skip the backoff rather than wait it out.
          if (a?.restart_at) offset = Math.max(offset, Date.parse(a.restart_at) - Date.now() + 10);
          return pass();
        },
      },
    );
    t.match(failed, { state: 'error', port: brokenPort, launched: false, failures: 5, msg: /^the model server failed 5 times in a row; last: it ended with exit code \d+/ });
    t.match(failed?.msg, /model\.json/, 'the reason names what the server could not load (its last output line)');
    t.equal(seen.size, 1, 'one reason, the same each time');
    t.match([...seen], [/^the model server failed to start \(it ended with exit code \d+.*\); restarting \(failure n of 5\)$/], 'while restarting, msg said why and how often');
    t.equal(await deps.orchestrator.status(failed?.uid ?? ''), null, 'no server is left for it');
    const after = await pass();
    t.same(after.started, [], 'an app in error is not started again');
  });

  await t.test("a ready app that fails for good gets its owner a new check epoch (Nginx's kept checks of it end)", async (t) => {
    // broken, as if it had served and its server then failed for the last time.
    await col.update('alice/broken', {}, { set: { state: 'ready', failures: 4, launched: false }, unset: ['restart_at'] });
    const before = checkEpochOf(deps.config.root, 'alice');
    const failed = await until(
      () => col.get('alice/broken'),
      (a) => a?.state === 'error',
      'app broken failing again',
      { tries: 600, ms: 100, before: () => pass() },
    );
    t.match(failed, { state: 'error', failures: 5 });
    t.ok(checkEpochOf(deps.config.root, 'alice'), 'an epoch was written');
    t.not(checkEpochOf(deps.config.root, 'alice'), before, 'a new one');
  });

  await t.test('a model folder without model files ends the app in error at once, saying which files it needs', async (t) => {
    await readyModel(deps, alice, 'alice', 'bare');
    const dir = storagePaths(deps.config.root).model('alice', 'bare');
    for (const f of readdirSync(dir)) renameSync(path.join(dir, f), path.join(dir, `${f}.away`));
    await create('bare', 0.25, SERVER_RAM, 'bare');
    const seen = new Set<string>();
    const failed = await until(
      () => col.get('alice/bare'),
      (a) => a?.state !== 'creating',
      'app bare leaving creating',
      {
        tries: 1200,
        ms: 100,
        before: async () => {
          const a = await col.get('alice/bare');
          if (a?.msg) seen.add(a.msg);
          return pass();
        },
      },
    );
    t.match(failed, {
      state: 'error',
      failures: 5,
      msg: /^the model server failed 5 times in a row; last: it ended with exit code 78 .*holds neither model\.onnx nor model\.json: a model server needs model\.onnx \(an ONNX model\) or model\.json and its weight files/,
    });
    t.same(
      [...seen].filter((m) => /restarting/.test(m)),
      [],
      'never restarted: retrying cannot help',
    );
  });
});
