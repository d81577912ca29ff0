import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lockDir } from '../../shared/store/dir-lock.js';
import { freePort } from './process.js';

// `npm run cluster:local` started as a user starts it (its own process group, as a terminal
// gives it), for the tests that run against the platform in its cluster shape.
const REPO = path.resolve(import.meta.dirname, '../..');

export interface ClusterLocal {
  url: string;
  appUrl: string;
  root: string;
  /** The admin kubeconfig of the API server it runs (printed by it). */
  kubeconfig: string;
  /** The process group: npm, the script and everything it started. */
  group: number;
  /** What it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<void>;
  /** The function processes it supervises, by function name (read from /proc). */
  functions(): Map<string, { pid: number; port: number }>;
  /** Signals the whole group (as Ctrl-C does) and waits up to 60 s for all of it to end; an empty group is fine. */
  signal(sig: NodeJS.Signals): Promise<void>;
  /** Whether any process of the group is left. */
  alive(): boolean;
  /** SIGKILLs whatever of the group is left (after a failed test); an empty group is fine. */
  kill(): Promise<void>;
}

/** The configuration it needs from `npm test`; undefined when not there. */
export function clusterInfra(): { mongo: string; kafka: string } | undefined {
  const { MLP_TEST_KUBE, MLP_TEST_MONGO_URL: mongo, MLP_TEST_KAFKA_BROKERS: kafka } = process.env;
  return MLP_TEST_KUBE && mongo && kafka ? { mongo, kafka } : undefined;
}

/**
 * One cluster:local at a time on this machine: test files run in parallel, and two sets of fifty
 * function processes on two cores starve each other (and both would build dist/ at once).
 */
async function oneAtATime(): Promise<() => Promise<void>> {
  const file = path.join(tmpdir(), 'mlp-cluster-local.lock');
  for (const deadline = Date.now() + 60 * 60_000; ; ) {
    try {
      return await lockDir(file);
    } catch (err) {
      if (!/is in use by process/.test((err as Error).message) || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

export async function startClusterLocal(env: Record<string, string>): Promise<ClusterLocal> {
  const lock = await oneAtATime();
  let released: Promise<void> | undefined;
  const unlock = () => (released ??= lock());
  try {
    return await start(env, unlock);
  } catch (err) {
    await unlock();
    throw err;
  }
}

const groupAlive = (group: number) => {
  try {
    process.kill(-group, 0);
    return true;
  } catch {
    return false;
  }
};

async function start(env: Record<string, string>, unlock: () => Promise<void>): Promise<ClusterLocal> {
  const [port, appPort] = [await freePort(), await freePort()];
  const cluster = spawn('npm', ['run', '--silent', 'cluster:local'], {
    cwd: REPO,
    // Its own process group, signalled as a whole at the end, as a terminal's Ctrl-C would.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, MLP_PORT: String(port), MLP_APP_PORT: String(appPort) },
  });
  let out = '';
  cluster.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  cluster.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((resolve) => cluster.once('exit', () => resolve()));
  const group = cluster.pid ?? 0;
  const signal = async (sig: NodeJS.Signals) => {
    try {
      process.kill(-group, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // none of the group is left
    }
    await exited;
    // npm ends first; the script is still stopping what it started. The lock goes once all of it has.
    for (let i = 0; i < 120 && groupAlive(group); i++) await new Promise((r) => setTimeout(r, 500));
    if (!groupAlive(group)) await unlock();
  };
  const kill = () => signal('SIGKILL');
  const deadline = Date.now() + 10 * 60_000;
  while (!/MLP \(cluster shape\) is running/.test(out)) {
    if (cluster.exitCode !== null || Date.now() > deadline) {
      await kill();
      throw new Error(`cluster:local ${cluster.exitCode !== null ? `exited (${cluster.exitCode})` : 'did not start in time'}:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    appUrl: `http://127.0.0.1:${appPort}`,
    root: env.MLP_ROOT ?? path.join(REPO, '.mlp'),
    kubeconfig: /KUBECONFIG=([^)\s]+)/.exec(out)?.[1] ?? '',
    group,
    output: () => out,
    exited,
    functions: () => functionsOf(group),
    signal,
    kill,
    alive: () => groupAlive(group),
  };
}

/** Processes of the group started as a function (MLP_FUNCTION in their environment). */
function functionsOf(group: number): Map<string, { pid: number; port: number }> {
  const found = new Map<string, { pid: number; port: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // stat: "pid (comm) state ppid pgrp …"; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== group) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const name = environ.find((e) => e.startsWith('MLP_FUNCTION='))?.slice('MLP_FUNCTION='.length);
      const port = Number(environ.find((e) => e.startsWith('PORT='))?.slice('PORT='.length));
      if (name && port) found.set(name, { pid: Number(entry), port });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
