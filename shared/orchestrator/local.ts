import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../log.js';
import type { Orchestrator, Workload, WorkloadStatus } from './port.js';

interface Running {
  child?: ChildProcess;
  status: WorkloadStatus;
  exited: Promise<void>;
  stopping: boolean;
}

/**
 * The local default: each workload a child process in its own process group, so stopping it
 * stops everything it started. Children do not outlive the platform (close() stops them);
 * resources are not enforced here (Kubernetes enforces them as pod limits).
 */
export function createLocalOrchestrator(opts: { log: Logger; now?: () => Date; graceMs?: number }): Orchestrator {
  const now = () => (opts.now ?? (() => new Date()))().toISOString();
  const graceMs = opts.graceMs ?? 5000;
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

  const launch = (w: Workload): Running => {
    mkdirSync(w.workdir, { recursive: true });
    mkdirSync(path.dirname(w.logFile), { recursive: true });
    const log = openSync(w.logFile, 'a');
    let resolveExit: () => void = () => undefined;
    const exited = new Promise<void>((r) => (resolveExit = r));
    const entry: Running = { status: { id: w.id, phase: 'pending' }, exited, stopping: false };
    const [program = '', ...args] = w.command;
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
      const failedBy = entry.stopping ? 'stopped' : signal ? `killed by ${signal}` : `exit code ${code}`;
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

  const killGroup = (child: ChildProcess | undefined, signal: NodeJS.Signals) => {
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
    signalGroup(child.pid, signal);
  };

  const stop = async (id: string) => {
    const entry = workloads.get(id);
    if (!entry || entry.status.phase === 'succeeded' || entry.status.phase === 'failed') return;
    entry.stopping = true;
    killGroup(entry.child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(entry.child, 'SIGKILL'), graceMs);
    await entry.exited;
    clearTimeout(timer);
  };

  return {
    kind: 'local',
    async start(w) {
      const known = workloads.get(w.id);
      if (known) return { ...known.status };
      const entry = launch(w);
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

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
