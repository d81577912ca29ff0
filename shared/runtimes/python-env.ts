import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import { tryLockFile } from '../store/dir-lock.js';
import { ORT_TELEMETRY_OFF, PY_HELPER_DIR, requirementsFile, SMOKE_IMPORTS, type Runtime } from './catalog.js';

/**
 * The Python environments of the runtimes, built by the platform on this machine and cached by
 * what they hold: `{cache}/{runtime}-{hash}` where the hash covers the pinned requirements and the
 * interpreter's version, so changing a pin builds a new one beside the old. A folder counts only
 * once its READY file is written (a build cut short is started again); a lock folder beside it
 * keeps two processes of the platform (or `npm test`'s pre-build) from building the same one.
 */
export interface PythonEnvs {
  /** The interpreter of the runtime's environment, or undefined while it is not built. */
  python(runtime: Runtime): string | undefined;
  /** What a job waiting for the runtime is told: 'ready', being built (with since when), or why it failed. */
  state(runtime: Runtime): { phase: 'ready' } | { phase: 'building'; detail: string } | { phase: 'failed'; detail: string };
  /** Builds the environment unless it is built; resolves with its interpreter (one build at a time per runtime). */
  ensure(runtime: Runtime): Promise<string>;
  /** The folder of the runtime's environment (built or not). */
  dir(runtime: Runtime): string;
}

const READY = 'READY';
/** A failed build is tried again by the next job that needs it, after this long. */
const RETRY_MS = 60_000;
const BUILD_VERSION = 'v1';

export interface EnvSpec {
  requirements: string;
  imports: string[];
}

const catalogSpec = (runtime: Runtime): EnvSpec => ({ requirements: requirementsFile(runtime), imports: SMOKE_IMPORTS[runtime] });

/** `spec`: what each runtime's environment installs and must import (tests give small ones). */
/** `progress`: each line pip prints while building (`npm run runtimes` shows them). */
export function createPythonEnvs(opts: {
  cache: string;
  python: string;
  log: Logger;
  now?: () => number;
  spec?: (runtime: Runtime) => EnvSpec;
  progress?: (runtime: Runtime, line: string) => void;
}): PythonEnvs {
  const spec = opts.spec ?? catalogSpec;
  const now = opts.now ?? Date.now;
  let pyVersion: string | undefined;
  const version = () => (pyVersion ??= interpreterVersion(opts.python));
  const dirs = new Map<Runtime, string>();
  const dir = (runtime: Runtime) => {
    let d = dirs.get(runtime);
    if (!d) {
      const hash = createHash('sha256')
        .update(`${BUILD_VERSION}\n${version()}\n`)
        .update(readFileSync(spec(runtime).requirements))
        .digest('hex')
        .slice(0, 16);
      d = path.join(opts.cache, `${runtime}-${hash}`);
      dirs.set(runtime, d);
    }
    return d;
  };
  const builds = new Map<Runtime, { started: number; promise: Promise<string> }>();
  const failures = new Map<Runtime, { at: number; detail: string }>();
  const pythonOf = (d: string) => path.join(d, 'bin', 'python');

  const ensure = (runtime: Runtime): Promise<string> => {
    const d = dir(runtime);
    if (existsSync(path.join(d, READY))) return Promise.resolve(pythonOf(d));
    const running = builds.get(runtime);
    if (running) return running.promise;
    const started = now();
    const promise = buildLocked(runtime, d, { ...opts, spec: spec(runtime) })
      .then(() => {
        failures.delete(runtime);
        return pythonOf(d);
      })
      .catch((err: unknown) => {
        const detail = (err as Error).message;
        failures.set(runtime, { at: now(), detail });
        opts.log.error('runtime environment could not be built', { runtime, err: detail });
        throw err;
      })
      .finally(() => builds.delete(runtime));
    builds.set(runtime, { started, promise });
    return promise;
  };

  return {
    dir,
    ensure,
    python(runtime) {
      const d = dir(runtime);
      return existsSync(path.join(d, READY)) ? pythonOf(d) : undefined;
    },
    state(runtime) {
      if (this.python(runtime)) return { phase: 'ready' };
      const failed = failures.get(runtime);
      if (failed && now() - failed.at < RETRY_MS && !builds.has(runtime)) return { phase: 'failed', detail: failed.detail };
      const build = builds.get(runtime);
      if (!build) {
        // Its failure is logged by ensure and kept in `failures` for the next look.
        ensure(runtime).catch((err: unknown) => opts.log.debug('runtime build started for a waiting job failed', { runtime, err: (err as Error).message }));
      }
      const since = builds.get(runtime)?.started ?? now();
      // No host path in what tenants read: the log's place is in the platform's own log.
      return { phase: 'building', detail: `started ${new Date(since).toISOString()}` };
    },
  };
}

/** "Python 3.11.2": the environment depends on the interpreter it is made from. */
function interpreterVersion(python: string): string {
  const r = spawnSync(python, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`${python} --version failed (${r.error?.message ?? r.stderr.trim() ?? `exit ${r.status}`}): set MLP_PYTHON to a Python 3 interpreter under /usr`);
  return (r.stdout || r.stderr).trim();
}

type BuildOptions = { python: string; log: Logger; spec: EnvSpec; progress?: (runtime: Runtime, line: string) => void };

// Builds under way in this process, by folder: the lock file tells processes apart by pid, so two
// PythonEnvs of one process (several platforms in a test) share one build this way.
const inProcess = new Map<string, Promise<void>>();

/** Takes the build lock (shared/store/dir-lock.ts), building unless another process did meanwhile. */
function buildLocked(runtime: Runtime, dir: string, opts: BuildOptions): Promise<void> {
  let p = inProcess.get(dir);
  if (!p) {
    p = buildAcrossProcesses(runtime, dir, opts).finally(() => inProcess.delete(dir));
    inProcess.set(dir, p);
  }
  return p;
}

async function buildAcrossProcesses(runtime: Runtime, dir: string, opts: BuildOptions): Promise<void> {
  await mkdir(path.dirname(dir), { recursive: true });
  for (;;) {
    const got = await tryLockFile(`${dir}.lock`);
    if (typeof got !== 'number') {
      try {
        if (!existsSync(path.join(dir, READY))) await build(runtime, dir, opts);
      } finally {
        await got();
      }
      return;
    }
    // Another process builds it: wait for its READY, or for its lock to go.
    await new Promise((r) => setTimeout(r, 2000));
    if (existsSync(path.join(dir, READY))) return;
  }
}

async function build(runtime: Runtime, dir: string, opts: BuildOptions): Promise<void> {
  const logFile = `${dir}.log`;
  const file = createWriteStream(logFile, { flags: 'w' });
  let partial = '';
  // Everything goes to the log file; whole lines to `progress` too.
  const out = {
    write(chunk: string | Buffer) {
      file.write(chunk);
      if (!opts.progress) return true;
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) opts.progress(runtime, line);
      return true;
    },
  };
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= new Promise<void>((r) => file.end(() => r())));
  const started = Date.now();
  opts.log.info('building the runtime environment (first use; several minutes)', { runtime, dir, log: logFile });
  try {
    await rm(dir, { recursive: true, force: true });
    // The folder is built in place under its final name: a venv's scripts name their own path.
    await run(opts.python, ['-m', 'venv', dir], out);
    const py = path.join(dir, 'bin', 'python');
    await run(py, ['-m', 'pip', 'install', '--no-input', '--disable-pip-version-check', '--progress-bar', 'off', '--no-color', '--no-cache-dir', '-r', opts.spec.requirements], out);
    await run(py, ['-m', 'pip', 'check'], out);
    // The helper must import in it: a smoke test of the whole environment.
    await run(py, ['-c', `import ${opts.spec.imports.join(', ')}`], out, { PYTHONPATH: PY_HELPER_DIR, [ORT_TELEMETRY_OFF.name]: ORT_TELEMETRY_OFF.value });
    const freeze = await run(py, ['-m', 'pip', 'freeze', '--all'], out);
    await writeFile(path.join(dir, `${READY}.tmp`), `runtime ${runtime}\nbuilt ${new Date().toISOString()}\n${freeze}`);
    await rename(path.join(dir, `${READY}.tmp`), path.join(dir, READY));
    opts.log.info('runtime environment built', { runtime, dir, seconds: Math.round((Date.now() - started) / 1000) });
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch((e: unknown) => opts.log.warn('could not remove a half-built environment', { dir, err: (e as Error).message }));
    await close(); // what pip said last is in the file before it is read
    // pip's last words, not the commands (they name the platform's paths).
    const tail = (await readFile(logFile, 'utf8').catch(() => ''))
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('$ '))
      .slice(-4)
      .join(' | ');
    throw new Error(`building runtime ${runtime} failed: ${(err as Error).message}${tail ? ` (last lines of its log: ${tail})` : ''}`);
  } finally {
    await close();
  }
}

/** Runs a build step under umask 022 (every job's uid reads the environment); resolves with its stdout. */
function run(program: string, args: string[], log: { write(chunk: string | Buffer): boolean }, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    log.write(`$ ${program} ${args.join(' ')}\n`);
    const child = spawn('/bin/sh', ['-c', 'umask 022 && exec "$@"', 'sh', program, ...args], { env: { ...process.env, PIP_NO_WARN_SCRIPT_LOCATION: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString('utf8');
      log.write(b);
    });
    child.stderr.on('data', (b: Buffer) => log.write(b));
    child.on('error', reject);
    child.on('close', (code, signal) => (code === 0 ? resolve(stdout) : reject(new Error(`${path.basename(program)} ${args.slice(0, 3).join(' ')} ended with ${signal ?? `exit ${code}`}`))));
  });
}
