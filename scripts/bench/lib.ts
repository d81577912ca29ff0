// What every benchmark shares: the built platform run as `npm start` runs it, one line per figure
// (figure, same-run baseline, ratio, goal), and the figures merged into bench/report.json.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { freePorts } from './ports.js';
import { type BenchSection, type Figure, type Report, formatFigure, machine } from './report.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const REPORT = path.join(ROOT, 'bench/report.json');
/** Plain JavaScript without declarations: imported by URL so strict mode does not resolve them. */
export const NGINX_MODULE = new URL('../infra/nginx.mjs', import.meta.url).href;

export const say = (line: string) => process.stdout.write(`${line}\n`);

/**
 * Compiles to dist/ as `npm start` does (incremental: a moment when nothing changed), so the
 * figures are of the JavaScript users run, not of tsx compiling on the fly. Type errors elsewhere
 * in the tree (others' work in progress) are reported but do not stop it: tsc emits anyway.
 * MLP_BENCH_NO_BUILD=1 skips it (`npm run bench` builds once before running each benchmark).
 */
export function ensureBuilt(): void {
  if (process.env.MLP_BENCH_NO_BUILD === '1') return;
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) say(`  (build: tsc reported type errors; dist/ was emitted anyway:\n${tsc.stdout.split('\n').slice(0, 5).join('\n')})`);
}

/**
 * A reference server of a benchmark (scripts/bench/bare-*.mjs) in its own process: `env` as it
 * is told, listening on a port the kernel gives it, which it prints as "listening <port>".
 */
export async function startReference(script: string, env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/bench', script)], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (line: Buffer) => resolve(Number(/listening (\d+)/.exec(line.toString())?.[1])));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}

export interface Platform {
  base: string;
  appBase: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * The one-process platform (dist/scripts/local/main.js, what `npm start` runs) on its own MLP_ROOT;
 * `checkout` names another built checkout (a before/after comparison).
 */
export async function startPlatform(root: string, env: Record<string, string> = {}, nodeArgs: string[] = [], checkout = ROOT): Promise<Platform> {
  const [port, appPort] = (await freePorts(2)) as [number, number];
  const child = spawn(process.execPath, [...nodeArgs, path.join(checkout, 'dist/scripts/local/main.js')], {
    cwd: checkout,
    env: { ...process.env, MLP_ROOT: root, MLP_PORT: String(port), MLP_APP_PORT: String(appPort), ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const exited = new Promise((r) => child.once('exit', r));
  await poll(async () => {
    if (child.exitCode !== null) throw new Error(`the platform exited with ${child.exitCode}`);
    return (await fetch(`${base}/_/health`).catch(() => undefined))?.ok === true;
  }, 'the platform starting');
  return {
    base,
    appBase: `http://127.0.0.1:${appPort}`,
    port,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A user and a token for it. */
export async function userToken(base: string, username: string): Promise<string> {
  await json(base, 'POST', '/api/v1/users', undefined, { username, password: 'password1' });
  const res = await fetch(`${base}/api/v1/users/${username}/token`, { headers: { authorization: `Basic ${Buffer.from(`${username}:password1`).toString('base64')}` } });
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`);
  return (await res.json()) as string;
}

export async function json<T = unknown>(base: string, method: string, urlPath: string, token?: string, body?: unknown): Promise<T> {
  const res = await fetch(base + urlPath, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${urlPath}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

export async function poll(check: () => Promise<boolean>, what: string, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Target {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** A Unix socket to connect to instead of the url's host and port (the url still names the path). */
  socketPath?: string;
}

export interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time (user + system) of the server process per request, in microseconds. */
  cpuUsPerRequest?: number;
}

export function load(target: Target, seconds: number, connections: number): Promise<autocannon.Result> {
  return autocannon({
    url: target.url,
    method: (target.method ?? 'GET') as 'GET',
    headers: target.headers ?? {},
    ...(target.body ? { body: target.body } : {}),
    ...(target.socketPath ? { socketPath: target.socketPath } : {}),
    connections,
    duration: seconds,
  });
}

/**
 * Each target loaded in turn, round after round (the machine is shared and noisy: alternating
 * spreads a busy moment over all of them), after a one-second warm-up each. Where a target names
 * its server's pid, the CPU time that process spent per request is measured too: unlike req/s,
 * it hardly moves when other work shares the cores.
 */
export async function alternate(targets: Record<string, Target & { pid?: number }>, opts: { rounds: number; seconds: number; connections: number }): Promise<Record<string, Load>> {
  for (const target of Object.values(targets)) await load(target, 1, opts.connections);
  const results: Record<string, autocannon.Result[]> = Object.fromEntries(Object.keys(targets).map((k) => [k, []]));
  const cpu: Record<string, number> = {};
  for (let round = 0; round < opts.rounds; round++) {
    for (const [name, target] of Object.entries(targets)) {
      const before = target.pid ? cpuSeconds(target.pid) : 0;
      results[name]?.push(await load(target, opts.seconds, opts.connections));
      if (target.pid) cpu[name] = (cpu[name] ?? 0) + cpuSeconds(target.pid) - before;
    }
  }
  return Object.fromEntries(
    Object.entries(results).map(([name, r]) => {
      const sum = summarise(r);
      const requests = r.reduce((n, x) => n + x.requests.total, 0);
      return [name, cpu[name] === undefined ? sum : { ...sum, cpuUsPerRequest: (1e6 * cpu[name]) / requests }];
    }),
  );
}

/** User plus system CPU seconds a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the line (utime, stime), counted after the command name: 12 and 13.
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
/** sysconf(_SC_CLK_TCK), 100 on every Linux Node runs on. */
const CLOCK_TICKS = 100;

export function summarise(results: autocannon.Result[]): Load {
  const requests = results.reduce((n, r) => n + r.requests.total, 0);
  const seconds = results.reduce((n, r) => n + r.duration, 0);
  const errors = results.reduce((n, r) => n + r.errors + r.non2xx, 0);
  // Percentiles of rounds are not additive: report the median round's.
  const median = [...results].sort((a, b) => a.requests.average - b.requests.average)[Math.floor(results.length / 2)] as autocannon.Result;
  return { rps: requests / seconds, p50: median.latency.p50, p99: median.latency.p99, errors };
}

/** Collects one benchmark's figures: prints each as it comes, and merges them into the report at the end. */
export function section(name: string, title: string): BenchSection & { figure(f: Figure): void; note(n: string): void; save(): void } {
  const s: BenchSection = { title, figures: [], notes: [] };
  return Object.assign(s, {
    figure(f: Figure) {
      s.figures.push(f);
      say(formatFigure(f));
    },
    note(n: string) {
      s.notes.push(n);
      say(`  note: ${n}`);
    },
    save() {
      mergeReport(name, s);
    },
  });
}

function mergeReport(name: string, s: BenchSection): void {
  mkdirSync(path.dirname(REPORT), { recursive: true });
  let report: Report;
  try {
    report = JSON.parse(readFileSync(REPORT, 'utf8')) as Report;
  } catch {
    report = { machine: machine(), benches: {} };
  }
  report.machine = machine();
  report.benches[name] = { title: s.title, figures: s.figures, notes: s.notes, at: new Date().toISOString() };
  const tmp = `${REPORT}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(report, null, 2)}\n`);
  renameSync(tmp, REPORT);
}

/** Peak VmRSS of a process while `during` runs, sampled every `everyMs` from /proc (bytes). */
export async function peakRss<T>(pid: number, during: () => Promise<T>, everyMs = 20): Promise<{ value: T; before: number; peak: number }> {
  const before = rssOf(pid);
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOf(pid));
  }, everyMs);
  try {
    const value = await during();
    peak = Math.max(peak, rssOf(pid));
    return { value, before, peak };
  } finally {
    clearInterval(timer);
  }
}

/** VmRSS of a process in bytes, from /proc/<pid>/status. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m?.[1]) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

export const MiB = 1024 * 1024;
export const cores = () => os.cpus().length;

/** Runs main, printing a failure the way every bench does, with a non-zero exit. */
export function run(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench ${name}: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}

/**
 * A MongoDB-wire server and Kafka: the ones MLP_TEST_MONGO_URL / MLP_TEST_KAFKA_BROKERS name
 * (`npm run bench` starts them once for all benchmarks), else started here for this run
 * (scripts/infra/up.mjs: FerretDB and a single-node Kafka) and stopped by stop().
 */
export async function servers(want: { mongo?: boolean; kafka?: boolean }): Promise<{ mongo?: string; kafka?: string; stop(): Promise<void> }> {
  const mongo = want.mongo ? process.env.MLP_TEST_MONGO_URL : undefined;
  const kafka = want.kafka ? process.env.MLP_TEST_KAFKA_BROKERS : undefined;
  const needMongo = Boolean(want.mongo && !mongo);
  const needKafka = Boolean(want.kafka && !kafka);
  if (!needMongo && !needKafka) return { ...(mongo ? { mongo } : {}), ...(kafka ? { kafka } : {}), stop: async () => {} };
  say(`  (starting ${[needMongo && 'FerretDB', needKafka && 'Kafka'].filter(Boolean).join(' and ')} with scripts/infra/up.mjs)`);
  const { infraUp } = (await import(INFRA_MODULE)) as {
    infraUp: (o: { mongo: boolean; kafka: boolean; log?: (m: string) => void }) => Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
  };
  const up = await infraUp({ mongo: needMongo, kafka: needKafka, log: () => {} });
  return {
    ...(mongo || up.env.MLP_MONGO_URL ? { mongo: mongo ?? up.env.MLP_MONGO_URL } : {}),
    ...(kafka || up.env.MLP_KAFKA_BROKERS ? { kafka: kafka ?? up.env.MLP_KAFKA_BROKERS } : {}),
    stop: () => up.stop(),
  };
}
const INFRA_MODULE = new URL('../infra/up.mjs', import.meta.url).href;

/** A MongoDB URL naming a database of its own, so runs never see each other's documents. */
export function ownDatabase(url: string, db: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]+)\/?([^?]*)(\?.*)?$/.exec(url);
  if (!m) throw new Error(`not a MongoDB URL: ${url}`);
  return `${m[1]}/${db}${m[3] ?? ''}`;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}
