// Predict throughput through the app gateway, as a ratio of calling the model server directly,
// both measured in this run on this machine (shared and noisy: rounds alternate A and B).
//   npm run bench:predict [-- --seconds 5 --rounds 3 --connections 16 --nginx]
// --nginx also measures the generated Nginx app gateway (nginx/mlp-apps-server.conf) in front of the platform.
// The platform runs as its own process (as `npm start` does); the load comes from this one.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import * as tf from '@tensorflow/tfjs';
import { storagePaths } from '../../shared/storage.js';
import { folderSaveHandler } from '../../templates/runtime-tf/checkpoint.js';
import { freePorts } from './ports.js';
import { json, poll, summarise } from './lib.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, connections: { type: 'string', default: '16' }, nginx: { type: 'boolean', default: false } } });
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const CONNECTIONS = Number(args.connections);
const BODY = JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] });
// Plain JavaScript without declarations: imported by URL so strict mode does not resolve it.
const NGINX_MODULE = new URL('../infra/nginx.mjs', import.meta.url).href;
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
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
  const appBase = `http://127.0.0.1:${appPort}`;
  try {
    await poll(async () => (await fetch(`${base}/_/health`).catch(() => undefined))?.ok === true, 'the platform starting');
    const token = await setUp(base, root);
    const app = await json<{ port: number }>(base, 'GET', '/api/v1/users/bench/apps/serve', token);
    const direct = { url: `http://127.0.0.1:${app.port}/v1/models/iris:predict`, headers: { 'content-type': 'application/json' } };
    const gateway = { url: `${appBase}/bench/serve/v1/models/iris:predict`, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } };
    for (const target of [direct, gateway]) {
      const check = await fetch(target.url, { method: 'POST', headers: target.headers, body: BODY });
      if (check.status !== 200) throw new Error(`${target.url} answered ${check.status}: ${await check.text()}`);
      await load(target, 1); // warm-up
    }
    const targets: Record<string, { url: string; headers: Record<string, string> }> = { direct, gateway };
    if (args.nginx) {
      const { startNginx } = (await import(NGINX_MODULE)) as { startNginx: (o: { upstream: string; appGateway: true }) => Promise<{ appUrl: string; stop(): Promise<void> }> };
      const gw = await startNginx({ upstream: `127.0.0.1:${port}`, appGateway: true });
      nginx = gw;
      targets.nginx = { ...gateway, url: `${gw.appUrl}/bench/serve/v1/models/iris:predict` };
      await load(targets.nginx, 1);
    }
    const totals: Record<string, autocannon.Result[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, target] of Object.entries(targets)) totals[name]?.push(await load(target, SECONDS));
    }
    const d = summarise(totals.direct ?? []);
    const line = (label: string, r: ReturnType<typeof summarise>) => say(`  ${label.padEnd(34)} ${r.rps.toFixed(0)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  errors ${r.errors}${r === d ? '' : `  ratio ${((100 * r.rps) / d.rps).toFixed(1)} % of direct (goal >= 70 %)`}`);
    say(`predict, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${SECONDS} s, on ${process.arch} with ${(await import('node:os')).cpus().length} cores:`);
    line('model server directly (baseline):', d);
    line('through the app gateway (node):', summarise(totals.gateway ?? []));
    if (totals.nginx) line('through the app gateway (nginx):', summarise(totals.nginx));
  } finally {
    await nginx?.stop();
    platform.kill('SIGTERM');
    await new Promise((r) => platform.once('exit', r));
    rmSync(root, { recursive: true, force: true });
  }
}

/** A user, a finished job with a small model in its ckpt/, a model of it, and a ready app. */
async function setUp(base: string, root: string): Promise<string> {
  await json(base, 'POST', '/api/v1/users', undefined, { username: 'bench', password: 'password1' });
  const res = await fetch(`${base}/api/v1/users/bench/token`, { headers: { authorization: `Basic ${Buffer.from('bench:password1').toString('base64')}` } });
  const token = (await res.json()) as string;
  const put = await fetch(`${base}/data/bench/.home/done.mjs`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'console.log("done")' });
  if (put.status >= 300) throw new Error(`home put: ${put.status}`);
  await json(base, 'POST', '/api/v1/users/bench/jobs', token, { name: 'train', entry: 'done.mjs', cpu: 0.1, ram: 100 });
  await poll(async () => (await json<{ state: string }>(base, 'GET', '/api/v1/users/bench/jobs/train', token)).state === 'finished', 'the job finishing');
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 10, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  await model.save(folderSaveHandler(path.join(storagePaths(root).job('bench', 'train'), 'ckpt')));
  await json(base, 'POST', '/api/v1/users/bench/models', token, { name: 'iris', src: 'train' });
  await poll(async () => (await json<{ state: string }>(base, 'GET', '/api/v1/users/bench/models/iris', token)).state === 'ready', 'the model being ready');
  await json(base, 'POST', '/api/v1/users/bench/apps', token, { name: 'serve', model_name: 'iris', cpu: 1, ram: 500 });
  await poll(async () => (await json<{ state: string }>(base, 'GET', '/api/v1/users/bench/apps/serve', token)).state === 'ready', 'the app being ready');
  return token;
}

function load(target: { url: string; headers: Record<string, string> }, seconds: number): Promise<autocannon.Result> {
  return autocannon({ url: target.url, method: 'POST', headers: target.headers, body: BODY, connections: CONNECTIONS, duration: seconds });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench predict: ${(err as Error).message}\n`);
  process.exit(1);
});
