// Cold start: spawn to the first 200 of one function process as its image runs it, the
// function's bundle (dist/bundles/datasets-get/index.js, scripts/bundle-functions.mjs; a real GET
// of a dataset with a token), as a ratio of a bare node:http process's spawn to its first
// response, alternating; beside them the unbundled template entry (dist/templates/mlp-node20/index.js,
// MLP_FUNCTION=datasets-get); each function process's RSS right after that first 200; the
// one-process runner's idle RSS with every function loaded.   npm run bench:cold [-- --rounds 7 --quick]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ensureBuilt, json, median, MiB, ROOT, rssOf, run, say, section, startPlatform, userToken } from './lib.js';
import { freePorts } from './ports.js';
import { meets, ratio } from './report.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, quick: { type: 'boolean', default: false } } });
const ROUNDS = Number(args.rounds ?? (args.quick ? 2 : 7));
const SECRETS = { MLP_SECRET: 's'.repeat(40), MLP_SERVICE_TOKEN: 'v'.repeat(40) };
const URL_PATH = '/api/v1/users/bench/datasets/mnist';

run('cold', async () => {
  ensureBuilt();
  // The function's bundle, as the image's build makes it (npm run build).
  const bundle = spawnSync(process.execPath, [path.join(ROOT, 'scripts/bundle-functions.mjs'), '--only', 'datasets-get'], { cwd: ROOT, encoding: 'utf8' });
  if (bundle.status !== 0) throw new Error(`bundle-functions failed: ${bundle.stderr}`);
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bench-cold-'));
  const s = section('cold', 'Cold start and memory');
  try {
    // The runner sets up the user and the dataset the function will read, then stops (the
    // embedded store is one process's at a time).
    const platform = await startPlatform(root, SECRETS);
    let token: string;
    let body: string;
    try {
      token = await userToken(platform.base, 'bench');
      await json(platform.base, 'POST', '/api/v1/users/bench/datasets', token, { name: 'mnist', size: 1024 });
      body = await (await fetch(platform.base + URL_PATH, { headers: { authorization: `Bearer ${token}` } })).text();
      await new Promise((r) => setTimeout(r, 3000)); // reconcilers and consumers have had a pass
      const idle = rssOf(platform.child.pid as number);
      s.figure({ name: 'one-process runner: idle RSS, all functions loaded', value: idle / MiB, unit: 'MiB', goal: '<= 200 MiB', met: meets('<= 200', idle / MiB) });
    } finally {
      await platform.stop();
    }

    const bare: number[] = [];
    const fn: number[] = [];
    const unbundled: number[] = [];
    const rss: number[] = [];
    const env = { ...SECRETS, MLP_ROOT: root, MLP_FUNCTION: 'datasets-get', MLP_LISTEN_HOST: '127.0.0.1' };
    for (let round = 0; round < ROUNDS; round++) {
      bare.push((await coldStart([path.join(ROOT, 'scripts/bench/bare-server.mjs')], { MLP_BENCH_BODY: body }, undefined)).ms);
      const f = await coldStart([path.join(ROOT, 'dist/bundles/datasets-get/index.js')], env, token);
      fn.push(f.ms);
      rss.push(f.rss);
      unbundled.push((await coldStart([path.join(ROOT, 'dist/templates/mlp-node20/index.js')], env, token)).ms);
    }
    const b = median(bare);
    const f = median(fn);
    const u = median(unbundled);
    const r = ratio(f, b, 'x');
    const ms = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' ');
    say(`cold: ${ROUNDS} alternating rounds; bundle ms ${ms(fn)}; unbundled ms ${ms(unbundled)}; bare ms ${ms(bare)}`);
    s.figure({
      name: 'datasets-get process: spawn to first 200 (median)',
      value: f,
      unit: 'ms',
      baseline: { name: 'bare node:http spawn to first response', value: b },
      ratio: r,
      goal: '<= 2.5x',
      met: meets('<= 2.5', r.value),
    });
    const ru = ratio(u, b, 'x');
    s.figure({
      name: 'datasets-get unbundled (dist/templates/mlp-node20/index.js): spawn to first 200 (median)',
      value: u,
      unit: 'ms',
      baseline: { name: 'bare node:http spawn to first response', value: b },
      ratio: ru,
    });
    const m = Math.max(...rss) / MiB;
    s.figure({ name: 'datasets-get process: RSS after start (largest)', value: m, unit: 'MiB', goal: '<= 80 MiB', met: meets('<= 80', m) });
    s.note(
      `median of ${ROUNDS} alternating spawns each; the function runs its bundle, as its image does, on the embedded store; the unbundled entry is the same server loading dist/ module by module`,
    );
    s.save();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Spawns a server process and polls it (every 2 ms) until it answers 200; its RSS then; stopped after. */
async function coldStart(argv: string[], env: Record<string, string>, token: string | undefined): Promise<{ ms: number; rss: number }> {
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}${URL_PATH}`;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const t0 = performance.now();
  const child = spawn(process.execPath, argv, { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise((r) => child.once('exit', r));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${argv.join(' ')} exited with ${child.exitCode}: ${stderr}`);
      const res = await fetch(url, { headers }).catch(() => undefined);
      if (res) {
        const text = await res.text();
        if (res.status === 200) break;
        throw new Error(`${argv.join(' ')} answered ${res.status}: ${text}`);
      }
      if (performance.now() - t0 > 30_000) throw new Error(`${argv.join(' ')} did not answer within 30 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    return { ms: performance.now() - t0, rss: rssOf(child.pid as number) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}
