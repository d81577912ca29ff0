// GET of one dataset through the gateway (token check, validation, store read) as a ratio of a
// bare node:http server in its own process answering the same body, both loaded in alternating
// rounds in this run; then through the real Nginx gateway, against Nginx in front of the bare
// server (same config: its auth_request goes to the bare server too).
//   npm run bench:api [-- --seconds 5 --rounds 3 --connections 50 --no-nginx --quick]
// --compare <dir>: another checkout, built (its dist/), loaded in the same rounds: before/after figures.
// MLP_BENCH_PROFILE=<dir> writes a CPU profile of the platform process there (node --cpu-prof).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { alternate, ensureBuilt, json, NGINX_MODULE, poll, ROOT, run, say, section, startPlatform, userToken, type Load, type Target } from './lib.js';
import { freePorts } from './ports.js';
import { meets, ratio } from './report.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'no-nginx': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    compare: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds ?? (args.quick ? 2 : 5));
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 3));
const CONNECTIONS = Number(args.connections);
const GOAL = '>= 50 %';

run('api', async () => {
  ensureBuilt();
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bench-api-'));
  const profile = process.env.MLP_BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.MLP_BENCH_PROFILE] : [];
  const platform = await startPlatform(root, {}, profile);
  const stops: (() => Promise<void>)[] = [() => platform.stop()];
  try {
    const token = await userToken(platform.base, 'bench');
    await json(platform.base, 'POST', '/api/v1/users/bench/datasets', token, { name: 'mnist', size: 1024 * 1024 });
    const urlPath = '/api/v1/users/bench/datasets/mnist';
    const body = await (await fetch(platform.base + urlPath, { headers: { authorization: `Bearer ${token}` } })).text();
    const bare = await startBare(body);
    stops.push(bare.stop);
    const auth = { authorization: `Bearer ${token}` };
    const targets: Record<string, Target & { pid?: number }> = {
      bare: { url: bare.url + urlPath, headers: auth, pid: bare.pid },
      gateway: { url: platform.base + urlPath, headers: auth, pid: platform.child.pid as number },
    };
    if (args.compare) {
      const otherRoot = mkdtempSync(path.join(tmpdir(), 'mlp-bench-api-before-'));
      const other = await startPlatform(otherRoot, {}, [], path.resolve(args.compare));
      stops.push(async () => {
        await other.stop();
        rmSync(otherRoot, { recursive: true, force: true });
      });
      const otherToken = await userToken(other.base, 'bench');
      await json(other.base, 'POST', '/api/v1/users/bench/datasets', otherToken, { name: 'mnist', size: 1024 * 1024 });
      targets.compare = { url: other.base + urlPath, headers: { authorization: `Bearer ${otherToken}` }, pid: other.child.pid as number };
    }
    if (!args['no-nginx']) {
      const { startNginx } = (await import(NGINX_MODULE)) as { startNginx: (o: { upstream: string }) => Promise<{ url: string; stop(): Promise<void> }> };
      const ngBare = await startNginx({ upstream: bare.address });
      stops.push(() => ngBare.stop());
      const ngPlatform = await startNginx({ upstream: `127.0.0.1:${platform.port}` });
      stops.push(() => ngPlatform.stop());
      targets.nginxBare = { url: ngBare.url + urlPath, headers: auth };
      targets.nginx = { url: ngPlatform.url + urlPath, headers: auth };
    }
    for (const [name, t] of Object.entries(targets)) {
      const res = await fetch(t.url, { headers: t.headers ?? {} });
      const got = await res.text();
      if (res.status !== 200 || (name !== 'compare' && got !== body)) throw new Error(`${name} answered ${res.status}: ${got.slice(0, 200)}`);
    }
    say(`api: GET ${urlPath}, ${CONNECTIONS} connections, ${ROUNDS} alternating rounds of ${SECONDS} s`);
    const r = await alternate(targets, { rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS });
    const s = section('api', 'GET one dataset (autocannon)');
    const figures = (label: string, got: Load | undefined, base: Load | undefined, baseName: string) => {
      if (!got || !base) return;
      const rps = ratio(got.rps, base.rps, '%');
      s.figure({ name: `${label}: req/s`, value: got.rps, unit: 'req/s', baseline: { name: baseName, value: base.rps }, ratio: rps, goal: GOAL, met: meets(GOAL, rps.value) });
      s.figure({ name: `${label}: p50`, value: got.p50, unit: 'ms', baseline: { name: baseName, value: base.p50 }, ratio: ratio(got.p50, base.p50, 'x') });
      s.figure({ name: `${label}: p99`, value: got.p99, unit: 'ms', baseline: { name: baseName, value: base.p99 }, ratio: ratio(got.p99, base.p99, 'x') });
      if (got.cpuUsPerRequest !== undefined && base.cpuUsPerRequest !== undefined) {
        // The same goal read as cost: the bare server's CPU per request over the gateway's.
        const cost = ratio(base.cpuUsPerRequest, got.cpuUsPerRequest, '%');
        s.figure({
          name: `${label}: server CPU per request`,
          value: got.cpuUsPerRequest,
          unit: 'us',
          baseline: { name: baseName, value: base.cpuUsPerRequest },
          ratio: ratio(got.cpuUsPerRequest, base.cpuUsPerRequest, 'x'),
          goal: '<= 2x',
          met: meets('>= 50', cost.value),
        });
      }
      if (got.errors + base.errors > 0) s.note(`${label}: ${got.errors} errors or non-2xx answers, baseline ${base.errors}`);
    };
    figures('local gateway', r.gateway, r.bare, 'bare node:http');
    figures('Nginx gateway', r.nginx, r.nginxBare, 'Nginx + bare node:http');
    if (args.compare) figures(`local gateway of ${path.basename(path.resolve(args.compare))} (before)`, r.compare, r.bare, 'bare node:http');
    s.note(`${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s alternating with the baseline; the load tool shares the machine's cores with the servers`);
    s.save();
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => say(`  (stopping: ${(err as Error).message})`));
    rmSync(root, { recursive: true, force: true });
  }
});

/** The bare node:http server in its own process, answering `body`. */
async function startBare(body: string): Promise<{ url: string; address: string; pid: number; stop(): Promise<void> }> {
  const [port] = (await freePorts(1)) as [number];
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/bench/bare-server.mjs')], {
    env: { ...process.env, PORT: String(port), MLP_BENCH_BODY: body },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${port}`;
  await poll(async () => (await fetch(url).catch(() => undefined))?.ok === true, 'the bare server starting', 10_000);
  return {
    url,
    address: `127.0.0.1:${port}`,
    pid: child.pid as number,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
