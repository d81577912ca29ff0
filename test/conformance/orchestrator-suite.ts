import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import type { Orchestrator, Workload, WorkloadStatus } from '../../shared/orchestrator/port.js';
import { freePort } from '../helpers/process.js';
import { until as poll } from '../helpers/poll.js';
import { requestUpstream } from '../../shared/apps/upstream.js';

/**
 * Where adapters may differ, as the port allows. The defaults are the local adapter's.
 * Kubernetes: workloads see their folder at another path (/workspace), may report a 'pending'
 * phase first, and are confined by the kubelet, not by the adapter (its pod spec is checked in
 * test/kube/orchestrator-kubernetes.test.ts instead of the sandbox tests here).
 */
export interface ConformanceOptions {
  /** The folder the suite's files go under (MLP_ROOT for an adapter that mounts it); default the temp dir. */
  root?: string;
  /** The working directory as the workload sees it; default its own path. */
  seenWorkdir?: (w: Workload) => string;
  /** Runs the sandbox tests (the adapter confines workloads itself); default true. */
  sandbox?: boolean;
}

/** The Orchestrator port's contract; every adapter runs it. */
export function orchestratorConformance(t: Test, open: () => Promise<Orchestrator>, opts: ConformanceOptions = {}): void {
  let orch: Orchestrator;
  const dir = mkdtempSync(path.join(opts.root ?? tmpdir(), 'mlp-orch-'));
  let n = 0;
  t.before(async () => {
    orch = await open();
  });
  t.teardown(async () => {
    await orch.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const workload = (script: string, over: Partial<Workload> = {}): Workload => {
    n += 1;
    const workdir = path.join(dir, `w${n}`);
    // In its own folder: the one place every adapter gives a workload (a pod mounts only its folders).
    mkdirSync(workdir, { recursive: true });
    const file = path.join(workdir, `s${n}.mjs`);
    writeFileSync(file, script);
    return {
      id: `w${n}`,
      kind: 'job',
      labels: { user: 'alice', name: `job${n}` },
      command: [process.execPath, file],
      workdir,
      env: {},
      logFile: path.join(workdir, 'log', 'job.log'),
      resources: { cpu: 1, gpu: 0, ram: 100 },
      ...over,
    };
  };
  const until = async (id: string, phases: WorkloadStatus['phase'][]) =>
    (await poll(
      () => orch.status(id),
      (s) => s !== null && phases.includes(s.phase),
      `${id} reaching ${phases.join('/')}`,
      { tries: 400, ms: 25 },
    )) as WorkloadStatus;

  t.test('a script that exits 0 succeeds; its output is in the log; cwd and env are its own', async (t) => {
    const w = workload(
      `console.log('cwd=' + process.cwd()); console.log('user=' + process.env.MLP_USER); console.error('to stderr'); console.log('secret=' + (process.env.MLP_SERVICE_TOKEN ?? 'none'));`,
      { env: { MLP_USER: 'alice' } },
    );
    const seen: string[] = [];
    const unwatch = orch.watch((s) => s.id === w.id && seen.push(s.phase));
    await orch.start(w);
    const done = await until(w.id, ['succeeded', 'failed']);
    unwatch();
    t.match(done, { phase: 'succeeded', exitCode: 0, startedAt: String, finishedAt: String });
    const log = readFileSync(w.logFile, 'utf8');
    t.match(log, `cwd=${opts.seenWorkdir?.(w) ?? w.workdir}`);
    t.match(log, 'user=alice');
    t.match(log, 'to stderr', 'stderr goes to the log too');
    t.match(log, 'secret=none', "the platform's environment is not passed on");
    // 'pending' (waiting for a node) may come first: the port's phases allow it.
    t.same(
      seen.filter((p) => p !== 'pending'),
      ['running', 'succeeded'],
      'watchers see every phase change',
    );
  });

  t.test('a non-zero exit fails with the code', async (t) => {
    const w = workload('process.exit(3)');
    await orch.start(w);
    t.match(await until(w.id, ['succeeded', 'failed']), { phase: 'failed', exitCode: 3, reason: 'exit code 3' });
  });

  t.test('a program that cannot start fails with the reason', async (t) => {
    const w = workload('', { command: ['/no/such/program'] });
    await orch.start(w);
    t.match(await until(w.id, ['failed']), { phase: 'failed', reason: /could not start \/no\/such\/program/ });
  });

  t.test('starting a known id again starts nothing', async (t) => {
    // In its working directory: a relative path means the same file wherever the adapter runs it.
    const w = workload(`import { appendFileSync } from 'node:fs'; appendFileSync('count', 'x'); setTimeout(() => {}, 300);`);
    await orch.start(w);
    await orch.start(w);
    await until(w.id, ['succeeded']);
    t.equal(readFileSync(path.join(w.workdir, 'count'), 'utf8'), 'x', 'the script ran once');
  });

  t.test('stop ends the whole process tree and reports "stopped"', async (t) => {
    // Found by a marker in its command line (seen from the host's /proc): its own pid may be in another pid namespace.
    const marker = `mlp-stop-marker-${process.pid}-${Date.now()}`;
    const w = workload(`
      import { spawn } from 'node:child_process';
      import { writeFileSync } from 'node:fs';
      const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000) // ${marker}'], { stdio: 'ignore' });
      writeFileSync('grandchild.pid', String(g.pid));
      setInterval(() => {}, 1000);`);
    const pidFile = path.join(w.workdir, 'grandchild.pid');
    await orch.start(w);
    await until(w.id, ['running']);
    for (let i = 0; i < 400 && (!readFileSafe(pidFile) || withMarker(marker).length === 0); i++) await new Promise((r) => setTimeout(r, 25));
    t.equal(withMarker(marker).length, 1, 'the script started a child of its own');
    await orch.stop(w.id);
    t.match(await orch.status(w.id), { phase: 'failed', reason: 'stopped' });
    for (let i = 0; i < 200 && withMarker(marker).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    t.same(withMarker(marker), [], 'its child was stopped too');
    await orch.stop(w.id);
    t.match(await orch.status(w.id), { phase: 'failed', reason: 'stopped' }, 'stopping again changes nothing');
    await orch.forget(w.id);
    t.equal(await orch.status(w.id), null, 'forgotten');
  });

  t.test('a server is ready once its health path answers 200, and not ready after it exits', async (t) => {
    const port = await freePort();
    // Answers 503 at first, then 200: ready must wait for the 200.
    const w = workload(
      `
      import http from 'node:http';
      let n = 0;
      http.createServer((req, res) => { n += 1; res.writeHead(req.url === '/health' && n > 2 ? 200 : 503); res.end(); }).listen(${port}, '127.0.0.1');`,
      { kind: 'app', health: { port, path: '/health' } },
    );
    const readiness: boolean[] = [];
    const unwatch = orch.watch((s) => s.id === w.id && s.ready !== undefined && readiness.push(s.ready));
    await orch.start(w);
    // Ready as status reports it and as watchers saw it (an adapter may read endpoints from its watch).
    for (let i = 0; i < 400 && !((await orch.status(w.id))?.ready && readiness.includes(true)); i++) await new Promise((r) => setTimeout(r, 25));
    t.match(await orch.status(w.id), { phase: 'running', ready: true });
    const res = await requestUpstream(orch.endpoint(w.id, port), { method: 'GET', path: '/health', headers: {}, timeoutMs: 5000 });
    t.equal(res.status, 200, 'the endpoint reaches the server');
    await orch.stop(w.id);
    unwatch();
    t.match(await orch.status(w.id), { phase: 'failed', ready: false });
    t.same(readiness, [false, true, false], 'watchers see not ready, ready, then not ready');
  });

  t.test('a job (no health check) has no readiness', async (t) => {
    const w = workload('setTimeout(() => {}, 200)');
    await orch.start(w);
    t.equal((await until(w.id, ['running', 'succeeded'])).ready, undefined);
    await until(w.id, ['succeeded']);
  });

  // A sandboxed workload (every job): the paths it is given, each at its own path, and nothing else.
  const sandboxed = (script: string, extra: { readOnly?: string[] } = {}): Workload => {
    const w = workload(script);
    const own = path.join(dir, `own-${w.id}`); // its script, read-only
    mkdirSync(own);
    const file = path.join(own, 'main.mjs');
    writeFileSync(file, script);
    // The test runner preloads its hooks into every node child (NODE_OPTIONS): they must be readable.
    const nodeModules = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../node_modules');
    return { ...w, command: [process.execPath, file], sandbox: { writable: [w.workdir], readOnly: [own, nodeModules, ...(extra.readOnly ?? [])], hidden: [dir] } };
  };

  if (opts.sandbox === false) return;

  t.test('a sandboxed workload writes only its writable paths, reads only its read-only ones, and sees nothing else', async (t) => {
    const outside = path.join(dir, 'outside.txt');
    writeFileSync(outside, 'not for the job');
    const shared = mkdtempSync(path.join(dir, 'ro-'));
    writeFileSync(path.join(shared, 'data.txt'), 'readable');
    const w = sandboxed(
      `
      import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
      const attempt = (what, f) => { try { console.log(what, 'ok', f()); } catch (err) { console.log(what, 'refused', err.code); } };
      attempt('write-workdir', () => writeFileSync('out.txt', 'mine'));
      attempt('read-ro', () => readFileSync(${JSON.stringify(path.join(shared, 'data.txt'))}, 'utf8'));
      attempt('write-ro', () => writeFileSync(${JSON.stringify(path.join(shared, 'new.txt'))}, 'x'));
      attempt('read-outside', () => readFileSync(${JSON.stringify(outside)}, 'utf8'));
      console.log('uid', process.getuid(), 'cwd', process.cwd(), 'user', process.env.MLP_USER);
      console.log('procs', readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).length);`,
      { readOnly: [shared] },
    );
    await orch.start({ ...w, env: { MLP_USER: 'alice' } });
    t.match(await until(w.id, ['succeeded', 'failed']), { phase: 'succeeded', exitCode: 0 });
    const log = readFileSync(w.logFile, 'utf8');
    t.match(log, 'write-workdir ok', 'its writable path is writable');
    t.equal(readFileSync(path.join(w.workdir, 'out.txt'), 'utf8'), 'mine', 'what it wrote is there outside');
    t.match(log, 'read-ro ok readable', 'a read-only path is readable');
    t.match(log, 'write-ro refused EROFS', 'a read-only path is not writable');
    t.match(log, 'read-outside refused ENOENT', 'anything else does not exist');
    t.match(log, `cwd ${w.workdir} user alice`, 'its paths and environment are the ones it was given');
    const uid = Number(/uid (\d+)/.exec(log)?.[1]);
    t.ok(uid >= 0 && uid !== process.getuid?.(), `a user id of its own (${uid})`);
    t.ok(Number(/procs (\d+)/.exec(log)?.[1]) <= 3, 'it sees only its own processes');
  });

  t.test('a sandboxed workload killed by a signal says so', async (t) => {
    const w = sandboxed(`process.kill(process.pid, 'SIGKILL')`);
    await orch.start(w);
    t.match(await until(w.id, ['succeeded', 'failed']), { phase: 'failed', reason: 'killed by SIGKILL' });
  });

  t.test('stopping a sandboxed workload is graceful first and ends its whole tree, even what left its group', async (t) => {
    const marker = `mlp-sandbox-marker-${process.pid}-${Date.now()}`;
    const w = sandboxed(`
      import { spawn } from 'node:child_process';
      // A process in its own session and group, which a group signal alone would miss.
      spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000) // ${marker}'], { stdio: 'ignore', detached: true });
      process.on('SIGTERM', () => { console.log('terminating gracefully'); process.exit(0); });
      console.log('started');
      setInterval(() => {}, 1000);`);
    await orch.start(w);
    await until(w.id, ['running']);
    for (let i = 0; i < 400 && (!readFileSafe(w.logFile).includes('started') || withMarker(marker).length === 0); i++) await new Promise((r) => setTimeout(r, 25));
    t.equal(withMarker(marker).length, 1, 'its detached child runs');
    await orch.stop(w.id);
    t.match(await orch.status(w.id), { phase: 'failed', reason: 'stopped' });
    t.match(readFileSync(w.logFile, 'utf8'), 'terminating gracefully', 'the job got SIGTERM first');
    for (let i = 0; i < 200 && withMarker(marker).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    t.same(withMarker(marker), [], 'the detached child ended with the sandbox');
  });
}

/** Live (not zombie) processes whose command line holds the marker, seen from the host's /proc. */
function withMarker(marker: string): number[] {
  return readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p) && readFileSafe(`/proc/${p}/cmdline`).includes(marker))
    .map(Number)
    .filter(alive);
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Alive and not a zombie (PID 1 here may reap orphans late; a zombie has already ended). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSafe(`/proc/${pid}/stat`);
  return !/^\d+ \(.*\) Z/.test(stat);
}
