import type { ChildProcess } from 'node:child_process';
import type { WorkloadCgroup } from './cgroups.js';
import { stillRuns } from './local-record.js';
import type { Workload, WorkloadStatus } from './port.js';

/** What the local orchestrator (local.ts) knows of one workload while it runs, and after. */
export interface Running {
  kind: Workload['kind'];
  child?: ChildProcess;
  /** The wrapper's pid (the group's leader) and start time, once it runs. */
  pid?: number;
  startTime?: string;
  /** Not this process's child: a job started before the platform restarted, followed by polling. */
  adopted: boolean;
  status: WorkloadStatus;
  exited: Promise<void>;
  resolveExit: () => void;
  stopping: boolean;
  /** Runs inside bwrap (bwrap and its reaper are in the group; the job's processes below them). */
  sandboxed: boolean;
  /** Its cgroup (limited jobs), and what it asked for, to say why it was ended. */
  cgroup?: Promise<WorkloadCgroup>;
  ram?: number;
  /** The workspace and its bound in bytes (limited jobs). */
  disk?: { dir: string; bytes: number };
  /** A limit it passed: why it was ended. */
  exceeded?: { kind: 'ram' | 'disk'; msg: string };
  /** A sandboxed server's Unix socket (local-serve.ts): where it is reached instead of its port. */
  socket?: string;
}

export function newEntry(id: string, kind: Workload['kind'], sandboxed: boolean, adopted: boolean): Running {
  let resolveExit: () => void = () => undefined;
  const exited = new Promise<void>((r) => (resolveExit = r));
  return { kind, adopted, status: { id, phase: 'pending' }, exited, resolveExit, stopping: false, sandboxed };
}

export const ended = (e: Running): boolean => e.status.phase === 'succeeded' || e.status.phase === 'failed';

/** Whether its wrapper still runs (the same pid and start time: a recycled pid is someone else). */
export const running = (e: Running): boolean => e.pid !== undefined && e.startTime !== undefined && stillRuns({ pid: e.pid, startTime: e.startTime });
