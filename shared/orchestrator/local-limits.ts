import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import { describeCgroups, type CgroupSupport, type Limits, type WorkloadCgroup } from './cgroups.js';
import { ended, type Running } from './local-workload.js';

/**
 * How the local orchestrator holds a job to what it asked for (MLP_JOB_LIMITS): a cgroup of its
 * own (cgroups.ts: memory, cpu quota, processes), resource limits on open files and file size, and
 * a watch on its workspace's bytes. `off` is the operator's choice for a single-user machine.
 */
export type JobLimits = { mode: 'off' } | { mode: 'on'; cgroups: CgroupSupport; pids: number; disk: number; nofile: number };

/** Open files one job's process may hold (RLIMIT_NOFILE): enough for training, not for taking every port or descriptor. */
export const JOB_NOFILE = 4096;

export function describeLimits(l: JobLimits): string {
  if (l.mode === 'off') return 'MLP_JOB_LIMITS=off: jobs and model servers run WITHOUT cpu, memory, process or disk limits and can take the whole machine — for a single-user machine only';
  if (l.cgroups.mode === 'unavailable')
    return `job limits cannot be enforced (${l.cgroups.reason}), so jobs and model servers are refused: run the platform as root (or delegate a cgroup to its user), or on a single-user machine set MLP_JOB_LIMITS=off`;
  return `${describeCgroups(l.cgroups)}; at most ${l.pids} processes and ${l.nofile} open files per job or model server; workspaces of at most ${l.disk} bytes`;
}

/** A job's cgroup limits from what it asked for. */
export const cgroupLimits = (resources: { cpu: number; ram: number }, pids: number): Limits => ({ cpu: resources.cpu, ramMi: resources.ram, pids });

/**
 * The argv that runs `command` inside the cgroup, with its resource limits: a shell writes its own
 * pid into each controller's procs file (so everything from the sandbox on is inside from its
 * first instruction), then becomes prlimit, which sets RLIMIT_NOFILE and RLIMIT_FSIZE (no single
 * file past the disk bound) and becomes the command.
 */
export function limitedCommand(cgroup: WorkloadCgroup, limits: { nofile: number; disk: number }, command: string[]): string[] {
  const join = 'while [ "$1" != -- ]; do echo $$ > "$1" || { echo "mlp: cannot join the job\'s cgroup ($1)" >&2; exit 125; }; shift; done; shift; exec "$@"';
  return ['/bin/sh', '-c', join, 'mlp-limits', ...cgroup.procsFiles, '--', 'prlimit', `--nofile=${limits.nofile}:${limits.nofile}`, `--fsize=${limits.disk}:${limits.disk}`, '--', ...command];
}

/** Entries a workspace walk looks at before it calls the workspace over its bound anyway. */
const MAX_ENTRIES = 200_000;

/**
 * Bytes a workspace takes on disk (allocated blocks, so a sparse file counts what it holds),
 * never following links; Infinity past MAX_ENTRIES (a job making files without end is over too).
 */
export async function workspaceBytes(dir: string): Promise<number> {
  let bytes = 0;
  let entries = 0;
  const visit = async (folder: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (err) {
      if (['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '')) return; // gone meanwhile
      throw err;
    }
    for (const name of names) {
      entries += 1;
      if (entries > MAX_ENTRIES) return;
      const p = path.join(folder, name);
      let s;
      try {
        s = await lstat(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      bytes += s.blocks * 512;
      if (s.isDirectory()) await visit(p);
    }
  };
  await visit(dir);
  return entries > MAX_ENTRIES ? Infinity : bytes;
}

/**
 * Removes workloads' cgroups once they end (what is left in one killed first); `settled(id)` is
 * what a workload started again under the same id waits for, so it never meets its last cgroup.
 */
export function cgroupReaper(log: Logger): { drop: (cgroup: Promise<WorkloadCgroup>, id: string) => Promise<void>; settled: (id: string) => Promise<void> | undefined } {
  const dropping = new Map<string, Promise<void>>();
  const drop = (cgroup: Promise<WorkloadCgroup>, id: string): Promise<void> => {
    const done = (async () => {
      try {
        const cg = await cgroup;
        await cg.killAll();
        await cg.remove();
      } catch (err) {
        log.error("could not remove a workload's cgroup", { id, err: (err as Error).message });
      }
    })();
    const tracked = done.finally(() => {
      if (dropping.get(id) === tracked) dropping.delete(id);
    });
    dropping.set(id, tracked);
    return tracked;
  };
  return { drop, settled: (id) => dropping.get(id) };
}

const DISK_POLL_MS = 1000;

/**
 * Measures the workspaces of `workloads` every DISK_POLL_MS and stops a job past its bound (no
 * file may pass it at all: RLIMIT_FSIZE), saying why. One pass at a time; the timer does not keep
 * the process alive (clear it on close).
 */
export function watchWorkspaces(workloads: Map<string, Running>, stop: (id: string) => Promise<void>, log: Logger): NodeJS.Timeout {
  let measuring = false;
  const diskWatch = setInterval(() => {
    if (measuring) return;
    measuring = true;
    void (async () => {
      for (const [id, entry] of workloads) {
        if (!entry.disk || ended(entry) || entry.stopping) continue;
        const bytes = await workspaceBytes(entry.disk.dir);
        if (bytes <= entry.disk.bytes || ended(entry)) continue;
        entry.exceeded = { kind: 'disk', msg: `workspace over ${entry.disk.bytes} bytes` };
        log.warn('stopping a job whose workspace passed its bound', { id, bytes, bound: entry.disk.bytes });
        await stop(id);
      }
    })()
      .catch((err: unknown) => log.error("measuring the jobs' workspaces failed", { err: (err as Error).message }))
      .finally(() => (measuring = false));
  }, DISK_POLL_MS);
  diskWatch.unref();
  return diskWatch;
}
