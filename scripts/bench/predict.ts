// Predict throughput through the app gateway, as a ratio of calling the model server directly,
// for each model format the model server serves (a TensorFlow.js layers model and an ONNX model),
// all measured in this run on this machine (shared and noisy: rounds alternate every target).
//   npm run bench:predict [-- --seconds 5 --rounds 3 --connections 16 --latency-requests 300 --nginx]
// --nginx also measures the generated Nginx app gateway (nginx/mlp-apps-server.conf) in front of the platform.
// Beside throughput: the model server's own latency for one row, tfjs and ONNX interleaved, one
// request at a time; and for the ONNX model the Open Inference Protocol's infer (/v2) too.
// The platform runs as its own process (as `npm start` does); the load comes from this one.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { checkEpochsDir } from '../../shared/apps/check-epochs.js';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { folderSaveHandler } from '../../templates/runtime-tf/checkpoint.js';
import { freePorts } from './ports.js';
import { alternate, json, median, poll, section, startReference, type Load, type Target } from './lib.js';
import { meets, ratio as ratioOf } from './report.js';
import { modelServers, oneRowLatency, pidOf, request } from './model-servers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    quick: { type: 'boolean', default: false },
    connections: { type: 'string', default: '16' },
    'latency-requests': { type: 'string', default: '300' },
    nginx: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds ?? (args.quick ? 2 : 5));
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 3));
const CONNECTIONS = Number(args.connections);
const LATENCY_REQUESTS = Number(args['latency-requests']);
const ROW = [5.1, 3.5, 1.4, 0.2];
const PREDICT_BODY = JSON.stringify({ instances: [ROW] });
/** A scikit-learn classifier (label int64, probabilities float) exported with skl2onnx. */
const ONNX_FIXTURE = path.join(ROOT, 'test/fixtures/onnx/iris-sklearn.onnx');
// Plain JavaScript without declarations: imported by URL so strict mode does not resolve them.
const NGINX_MODULE = new URL('../infra/nginx.mjs', import.meta.url).href;
const BARE_NGINX_MODULE = new URL('./bare-nginx.mjs', import.meta.url).href;
const say = (line: string) => process.stdout.write(`${line}\n`);

/** One model format: the job whose ckpt/ holds it, the model made of that job, the app serving it. */
interface Format {
  label: string;
  job: string;
  model: string;
  app: string;
  writeCkpt(ckpt: string): Promise<void>;
}
const FORMATS: Format[] = [
  {
    label: 'tfjs',
    job: 'train',
    model: 'iris',
    app: 'serve',
    async writeCkpt(ckpt) {
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 10, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
      await model.save(folderSaveHandler(ckpt));
    },
  },
  {
    label: 'onnx',
    job: 'trainonnx',
    model: 'irisonnx',
    app: 'serveonnx',
    async writeCkpt(ckpt) {
      mkdirSync(ckpt, { recursive: true });
      copyFileSync(ONNX_FIXTURE, path.join(ckpt, 'model.onnx'));
    },
  },
];

type Named = Target & { pid?: number };

async function main(): Promise<void> {
  tf.enableProdMode();
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bench-'));
  const [port, appPort] = await freePorts(2);
  // MLP_BENCH_PROFILE=<dir> writes a CPU profile of the platform process there (node --cpu-prof).
  const profile = process.env.MLP_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.MLP_BENCH_PROFILE] : [];
  const platform = spawn(process.execPath, [...profile, '--import', 'tsx', path.join(ROOT, 'scripts/local/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, MLP_ROOT: root, MLP_PORT: String(port), MLP_APP_PORT: String(appPort) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  let nginx: { stop(): Promise<void> } | undefined;
  const proxies: ChildProcess[] = [];
  const references: { stop(): Promise<void> }[] = [];
  const appBase = `http://127.0.0.1:${appPort}`;
  try {
    await poll(async () => (await fetch(`${base}/_/health`).catch(() => undefined))?.ok === true, 'the platform starting');
    const token = await setUp(base, root);
    let nginxUrl: string | undefined;
    if (args.nginx) {
      const { startNginx } = (await import(NGINX_MODULE)) as { startNginx: (o: { upstream: string; appGateway: true; epochsDir: string }) => Promise<{ appUrl: string; stop(): Promise<void> }> };
      // The platform's check epochs: Nginx keeps checks' answers under them (shared/apps/check-epochs.ts).
      const gw = await startNginx({ upstream: `127.0.0.1:${port}`, appGateway: true, epochsDir: checkEpochsDir(root) });
      nginx = gw;
      nginxUrl = gw.appUrl;
    }

    // Every target of every format, keyed "<format> <protocol> <path>"; the ratios compare each
    // path with the same format and protocol called directly. Sandboxed (the default), a model
    // server has no port of the host: it listens on a Unix socket only the platform reaches, and
    // this process (the same user, or root) connects to it there.
    const targets: Record<string, Named> = {};
    const directs: Record<string, Named> = {};
    const json_ = { 'content-type': 'application/json' };
    const auth = { ...json_, authorization: `Bearer ${token}` };
    const servers = await modelServers(root);
    for (const f of FORMATS) {
      const app = await json<{ port: number }>(base, 'GET', `/api/v1/users/bench/apps/${f.app}`, token);
      const socketPath = servers.get(f.model);
      const at = socketPath ? { url: 'http://localhost', socketPath } : { url: `http://127.0.0.1:${app.port}` };
      const serverPid = pidOf(storagePaths(root).model('bench', f.model));
      const protocols: [string, string, string][] = [['predict', `/v1/models/${f.model}:predict`, PREDICT_BODY]];
      if (f.label === 'onnx') protocols.push(['infer', `/v2/models/${f.model}/infer`, await inferBody(at, f.model)]);
      for (const [protocol, route, body] of protocols) {
        const key = `${f.label} ${protocol}`;
        const direct: Named = { url: at.url + route, ...(at.socketPath ? { socketPath: at.socketPath } : {}), method: 'POST', headers: json_, body, ...(serverPid ? { pid: serverPid } : {}) };
        if (protocol === 'predict') directs[f.label] = direct;
        targets[`${key} direct`] = direct;
        targets[`${key} gateway`] = { url: `${appBase}/bench/${f.app}${route}`, method: 'POST', headers: auth, body, ...(platform.pid ? { pid: platform.pid } : {}) };
        if (nginxUrl) targets[`${key} nginx`] = { url: `${nginxUrl}/bench/${f.app}${route}`, method: 'POST', headers: auth, body };
        if (protocol === 'predict') {
          // What a bare Node proxy reaches on the same path: the ceiling for any gateway in Node.
          const bare = await startReference('bare-proxy.mjs', { UPSTREAM: at.socketPath ?? `127.0.0.1:${app.port}` });
          proxies.push(bare.child);
          targets[`${key} bare`] = { url: `${bare.url}${route}`, method: 'POST', headers: json_, body, ...(bare.child.pid ? { pid: bare.child.pid } : {}) };
          if (nginxUrl) {
            // What any Nginx reaches on the same path: kept-alive upstream, no check.
            const ref = await startBareNginx(at.socketPath ?? `127.0.0.1:${app.port}`);
            references.push(ref);
            targets[`${key} nginxbare`] = { url: `${ref.url}${route}`, method: 'POST', headers: json_, body };
          }
        }
      }
      say(`  ${f.label}: model server ${socketPath ? `on ${socketPath}` : `on port ${app.port}`}${serverPid ? `, pid ${serverPid}` : ' (pid not found: no CPU figure)'}`);
    }
    for (const [name, target] of Object.entries(targets)) {
      const check = await request(target);
      if (check.status !== 200) throw new Error(`${name}: ${target.url} answered ${check.status}: ${check.text}`);
    }

    const loadBefore = loadavg();
    const latency = await oneRowLatency(directs, LATENCY_REQUESTS);
    const loads = await alternate(targets, { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS });
    const loadAfter = loadavg();

    const la = (l: number[]) => l.map((x) => x.toFixed(1)).join(' ');
    say('');
    say(`predict, ${CONNECTIONS} connections (autocannon), ${ROUNDS} rounds of ${SECONDS} s alternating all ${Object.keys(targets).length} targets, on ${process.arch} with ${cpus().length} cores`);
    say(`load average ${la(loadBefore)} before, ${la(loadAfter)} after, ${new Date().toISOString()}`);
    say('');
    say(`| ${['Model', 'Protocol', 'Path', 'req/s', 'p50 / p99 ms', 'errors', 'CPU µs/req', 'Ratio of direct'].join(' | ')} |`);
    say(`|${' --- |'.repeat(8)}`);
    for (const [name, r] of Object.entries(loads)) {
      const [format = '', protocol = '', where = ''] = name.split(' ');
      const d = loads[`${format} ${protocol} direct`] as Load;
      const cpu = r.cpuUsPerRequest === undefined ? '—' : `${r.cpuUsPerRequest.toFixed(0)}${where === 'direct' ? ' (model server)' : where === 'bare' ? ' (proxy)' : ' (platform)'}`;
      const ratio = where === 'direct' ? 'baseline' : `**${((100 * r.rps) / d.rps).toFixed(1)} %**${where.endsWith('bare') ? ' (reference)' : ' (goal >= 70 %)'}`;
      say(`| ${[format, protocol === 'predict' ? ':predict' : 'OIP /infer', PATHS[where] ?? where, r.rps.toFixed(0), `${r.p50} / ${r.p99}`, String(r.errors), cpu, ratio].join(' | ')} |`);
    }
    say('');
    say(`model server latency for one row (${PREDICT_BODY}), :predict called directly, ${LATENCY_REQUESTS} requests per model,`);
    say('one at a time on one kept-alive connection each, tfjs and ONNX interleaved; client-side time, so it includes this process and the socket:');
    say('');
    say('| Model | p50 ms | p90 ms | min ms |');
    say('| --- | --- | --- | --- |');
    for (const [label, times] of Object.entries(latency)) say(`| ${label} | ${pct(times, 0.5).toFixed(2)} | ${pct(times, 0.9).toFixed(2)} | ${Math.min(...times).toFixed(2)} |`);
    const [tfjs, onnx] = [latency.tfjs, latency.onnx];
    if (tfjs && onnx) say(`\nONNX p50 / tfjs p50: ${(median(onnx) / median(tfjs)).toFixed(2)}x`);
    report(loads, latency, `${la(loadBefore)} before, ${la(loadAfter)} after`);
  } finally {
    await nginx?.stop();
    for (const p of proxies) p.kill('SIGTERM');
    for (const r of references) await r.stop();
    if (platform.exitCode === null && platform.signalCode === null) {
      platform.kill('SIGTERM');
      await new Promise((r) => platform.once('exit', r));
    }
    // A platform that died (or did not stop its apps) leaves their model servers running: nothing
    // will adopt them from a root about to be removed.
    endRecorded(path.join(root, 'orchestrator'));
    rmSync(root, { recursive: true, force: true });
  }
}

/** The figures `npm run bench` puts in docs/benchmarks.md: each path's req/s as a share of the model server's. */
function report(loads: Record<string, Load>, latency: Record<string, number[]>, load: string): void {
  const s = section('predict', 'Predict through the app gateways, as a share of the model server called directly');
  for (const [name, r] of Object.entries(loads)) {
    const [format = '', protocol = '', where = ''] = name.split(' ');
    const d = loads[`${format} ${protocol} direct`];
    if (where === 'direct' || !d) continue;
    const share = ratioOf(r.rps, d.rps, '%');
    const goal = where.endsWith('bare') ? undefined : GOAL;
    s.figure({
      name: `${format} ${protocol === 'predict' ? ':predict' : 'OIP /infer'}: ${PATHS[where] ?? where}`,
      value: r.rps,
      unit: 'req/s',
      baseline: { name: 'model server directly', value: d.rps },
      ratio: share,
      ...(goal ? { goal, met: meets(goal, share.value) } : {}),
    });
  }
  for (const [label, times] of Object.entries(latency)) s.figure({ name: `${label}: one row, model server directly, p50`, value: pct(times, 0.5), unit: 'ms' });
  s.note(`${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s alternating every path; load average ${load}; one row: ${LATENCY_REQUESTS} requests one at a time per model`);
  s.save();
}

const GOAL = '>= 70 %';

const PATHS: Record<string, string> = {
  direct: 'model server directly',
  gateway: 'app gateway (Node)',
  nginx: 'app gateway (Nginx)',
  bare: 'bare Node proxy (reference)',
  nginxbare: 'bare Nginx, kept-alive upstream (reference)',
};

async function startBareNginx(upstream: string): Promise<{ url: string; stop(): Promise<void> }> {
  const { startBareNginx: start } = (await import(BARE_NGINX_MODULE)) as { startBareNginx: (u: string) => Promise<{ url: string; stop(): Promise<void> }> };
  return start(upstream);
}

/** A user; per format a finished job with the model in its ckpt/, a model of it, and a ready app. */
async function setUp(base: string, root: string): Promise<string> {
  await json(base, 'POST', '/api/v1/users', undefined, { username: 'bench', password: 'password1' });
  const res = await fetch(`${base}/api/v1/users/bench/token`, { headers: { authorization: `Basic ${Buffer.from('bench:password1').toString('base64')}` } });
  const token = (await res.json()) as string;
  const put = await fetch(`${base}/data/bench/.home/done.mjs`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'console.log("done")' });
  if (put.status >= 300) throw new Error(`home put: ${put.status}`);
  const state = async (what: string) => (await json<{ state: string }>(base, 'GET', `/api/v1/users/bench/${what}`, token)).state;
  for (const f of FORMATS) {
    await json(base, 'POST', '/api/v1/users/bench/jobs', token, { name: f.job, entry: 'done.mjs', cpu: 0.1, ram: 100 });
    await poll(async () => (await state(`jobs/${f.job}`)) === 'finished', `job ${f.job} finishing`);
    await f.writeCkpt(path.join(storagePaths(root).job('bench', f.job), 'ckpt'));
    await json(base, 'POST', '/api/v1/users/bench/models', token, { name: f.model, src: f.job });
    await poll(async () => (await state(`models/${f.model}`)) === 'ready', `model ${f.model} being ready`);
    await json(base, 'POST', '/api/v1/users/bench/apps', token, { name: f.app, model_name: f.model, cpu: 1, ram: 500 });
    await poll(async () => (await state(`apps/${f.app}`)) === 'ready', `app ${f.app} being ready`);
  }
  return token;
}

/** An OIP infer body for one row, naming the input the model's own metadata declares. */
async function inferBody(at: { url: string; socketPath?: string }, model: string): Promise<string> {
  const answer = await request({ ...at, url: `${at.url}/v2/models/${model}` });
  const meta = JSON.parse(answer.text) as { inputs?: { name: string }[] };
  const name = meta.inputs?.[0]?.name;
  if (!name) throw new Error(`GET /v2/models/${model} names no input: ${JSON.stringify(meta)}`);
  return JSON.stringify({ inputs: [{ name, shape: [1, ROW.length], datatype: 'FP32', data: ROW }] });
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
}

main().catch((err: unknown) => {
  const e = err as Error & { cause?: unknown };
  process.stderr.write(`bench predict: ${e.stack ?? String(err)}${e.cause ? `\n  cause: ${String(e.cause)}` : ''}\n`);
  process.exit(1);
});
