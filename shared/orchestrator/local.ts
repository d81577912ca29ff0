import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Orchestrator, Workload, WorkloadStatus } from './port.js';
import { bwrapArgs, describeSandbox, sandboxSupport, signalSandboxed, type SandboxSupport } from './sandbox.js';

interface Running {
  child?: ChildProcess;
  status: WorkloadStatus;
  exited: Promise<void>;
  stopping: boolean;
  /** Runs inside bwrap (the group's leader is bwrap, the job's processes are below it). */
  sandboxed: boolean;
}

/**
 * The local default: each workload a child process in its own process group, so stopping it
 * stops everything it started. Children do not outlive the platform (close() stops them);
 * resources are not enforced here (Kubernetes enforces them as pod limits).
 *
 * A workload with a `sandbox` (every job) runs inside bubblewrap (sandbox.ts): `sandbox` says
 * how, from MLP_JOB_SANDBOX; unset, bwrap is probed on first use. Where the sandbox cannot be
 * had, such workloads are refused (they fail at once, saying why); only the operator's
 * MLP_JOB_SANDBOX=off runs them unconfined. Workloads without one (apps' model servers, which
 * are platform code) run as plain child processes.
 */
export function createLocalOrchestrator(opts: { log: Logger; now?: () => Date; graceMs?: number; sandbox?: SandboxSupport }): Orchestrator {
  const now = () => (opts.now ?? (() => new Date()))().toISOString();
  const graceMs = opts.graceMs ?? 5000;
  let support: Promise<SandboxSupport> | undefined = opts.sandbox ? Promise.resolve(opts.sandbox) : undefined;
  const workloads = new Map<string, Running>();
  const listeners = new Set<(s: WorkloadStatus) => void>();
  const emit = (s: WorkloadStatus) => {
    for (const l of listeners) {
      try {
        l({ ...s });
      } catch (err) {
        opts.log.error('orchestrator listener failed', { id: s.id, err: (err as Error).message });
      }
    }
  };

  const launch = (w: Workload, sandbox: SandboxSupport | undefined): Running => {
    let resolveExit: () => void = () => undefined;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const sandboxed = sandbox?.mode === 'on';
    const entry: Running = { status: { id: w.id, phase: 'pending' }, exited, stopping: false, sandboxed };
    if (sandbox?.mode === 'unavailable') {
      // Never run someone else's code unconfined unless the operator said so.
      entry.status = { ...entry.status, phase: 'failed', reason: `not run: ${describeSandbox(sandbox)}`, finishedAt: now() };
      queueMicrotask(() => {
        emit(entry.status); // once start() has recorded it, as a spawn error would be
        resolveExit();
      });
      return entry;
    }
    mkdirSync(w.workdir, { recursive: true });
    mkdirSync(path.dirname(w.logFile), { recursive: true });
    const log = openSync(w.logFile, 'a');
    const [program = '', ...args] =
      sandbox?.mode === 'on' && w.sandbox ? [sandbox.bwrap, ...bwrapArgs({ command: w.command, workdir: w.workdir, sandbox: w.sandbox, tmpBytes: w.resources.ram * 1024 * 1024 }, sandbox)] : w.command;
    let child: ChildProcess;
    try {
      // A minimal environment: the workload's own variables and a PATH, nothing of the platform's secrets.
      child = spawn(program, args, { cwd: w.workdir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...w.env }, stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log); // the child has its own copy
    }
    entry.child = child;
    child.once('spawn', () => {
      entry.status = { ...entry.status, phase: 'running', startedAt: now(), ...(w.health ? { ready: false } : {}) };
      emit(entry.status);
      if (w.health) void pollHealth(entry, w.health);
    });
    child.once('error', (err) => {
      // Spawning failed (no such program): there is no exit event to wait for.
      if (entry.status.phase === 'succeeded' || entry.status.phase === 'failed') return;
      entry.status = { ...entry.status, phase: 'failed', reason: `could not start ${program}: ${err.message}`, finishedAt: now() };
      emit(entry.status);
      resolveExit();
    });
    child.once('exit', (code, signal) => {
      // bwrap answers a job killed by a signal with 128 + its number.
      const killedInside = sandboxed && code !== null && code > 128 ? signalName(code - 128) : undefined;
      const failedBy = entry.stopping ? 'stopped' : signal ? `killed by ${signal}` : killedInside ? `killed by ${killedInside}` : `exit code ${code}`;
      entry.status = {
        ...entry.status,
        phase: code === 0 && !entry.stopping ? 'succeeded' : 'failed',
        ...(code !== null ? { exitCode: code } : {}),
        ...(code === 0 && !entry.stopping ? {} : { reason: failedBy }),
        ...(entry.status.ready !== undefined ? { ready: false } : {}),
        finishedAt: now(),
      };
      // Whatever the workload left running in its group ends with it.
      if (child.pid) signalGroup(child.pid, 'SIGKILL');
      emit(entry.status);
      resolveExit();
    });
    return entry;
  };

  // A server is ready once its health path answers 200 (what a readiness probe does on Kubernetes).
  const pollHealth = async (entry: Running, health: NonNullable<Workload['health']>) => {
    while (entry.status.phase === 'running' && !entry.stopping) {
      if (await answers200(health.port, health.path)) {
        if (entry.status.phase !== 'running') return;
        entry.status = { ...entry.status, ready: true };
        emit(entry.status);
        return;
      }
      await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }
  };

  const killGroup = (child: ChildProcess | undefined, signal: NodeJS.Signals, sandboxed = false) => {
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    // Gracefully, a sandboxed job's own processes get the signal (bwrap's death would end them at once).
    if (sandboxed && signal !== 'SIGKILL') signalSandboxed(child.pid, signal);
    else signalGroup(child.pid, signal);
  };

  const stop = async (id: string) => {
    const entry = workloads.get(id);
    if (!entry || entry.status.phase === 'succeeded' || entry.status.phase === 'failed') return;
    entry.stopping = true;
    killGroup(entry.child, 'SIGTERM', entry.sandboxed);
    const timer = setTimeout(() => killGroup(entry.child, 'SIGKILL'), graceMs);
    await entry.exited;
    clearTimeout(timer);
  };

  return {
    kind: 'local',
    async start(w) {
      if (w.sandbox && !support) support = sandboxSupport('on');
      const sandbox = w.sandbox ? await support : undefined;
      // From here on synchronous: two starts of one id cannot both launch.
      const known = workloads.get(w.id);
      if (known) return { ...known.status };
      const entry = launch(w, sandbox);
      workloads.set(w.id, entry);
      return { ...entry.status };
    },
    stop,
    endpoint: (_id, port) => `127.0.0.1:${port}`,
    portAvailable: canListen,
    async status(id) {
      const entry = workloads.get(id);
      return entry ? { ...entry.status } : null;
    },
    async forget(id) {
      const entry = workloads.get(id);
      if (entry && (entry.status.phase === 'running' || entry.status.phase === 'pending')) await stop(id);
      workloads.delete(id);
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      await Promise.all([...workloads.keys()].map(stop));
      listeners.clear();
    },
  };
}

const HEALTH_POLL_MS = 100;

function answers200(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    // Any failure (refused, reset, timeout) means "not yet"; the caller polls again.
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(osConstants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
