import type { Logger } from '../core/log.js';
import { openCgroup, type WorkloadCgroup } from './cgroups.js';
import { cgroupLimits, type JobLimits } from './local-limits.js';
import { signalGroup } from './local-process.js';
import { findWrapper, stillRuns, type recordStore } from './local-record.js';
import { ended, newEntry, running, type Running } from './local-workload.js';

const ADOPTED_POLL_MS = 250;

/**
 * Workloads left by an earlier platform on the local orchestrator's stateDir (local.ts; none
 * unless `durable`): a job is adopted if its process still runs (the same start time: a recycled
 * pid is someone else), else ended by the exit code it recorded; a model server is stopped and
 * forgotten (the app watcher starts it afresh). Adopted jobs are not this process's children, so
 * they are polled until they end: the returned timer (clear it on close) does that.
 */
export function adoptLeftovers(ctx: {
  records: ReturnType<typeof recordStore>;
  durable: boolean;
  workloads: Map<string, Running>;
  log: Logger;
  limits: JobLimits | undefined;
  openBridge: () => Promise<unknown>;
  dropCgroup: (cgroup: Promise<WorkloadCgroup>, id: string) => Promise<void>;
  settle: (entry: Running, code: number | null, signal: NodeJS.Signals | null, lost?: string) => void;
}): NodeJS.Timeout {
  const { records, durable, workloads, log, limits, openBridge, dropCgroup, settle } = ctx;
  for (const noted of durable ? records.all() : []) {
    const found = noted.pid === 0 ? findWrapper(records.exitFile(noted.id)) : undefined;
    if (noted.pid === 0 && !found) {
      records.remove(noted.id); // never started: to the platform, unknown (a job is launched again)
      continue;
    }
    const r = found ? { ...noted, ...found } : noted;
    if (found) records.write(r);
    if (r.sandboxed && r.kind === 'job') openBridge().catch((err: unknown) => log.error("the jobs' API bridge could not start: adopted jobs cannot reach the API", { err: (err as Error).message }));
    if (r.kind === 'app') {
      if (stillRuns(r)) {
        log.warn('stopping a model server left by an earlier platform process', { id: r.id, pid: r.pid });
        signalGroup(r.pid, 'SIGKILL');
      }
      const cgroups = limits?.mode === 'on' && limits.cgroups.mode !== 'unavailable' ? limits.cgroups : undefined;
      if (cgroups) void dropCgroup(openCgroup(cgroups, r.id, cgroupLimits({ cpu: 1, ram: 100 }, 1)), r.id);
      records.remove(r.id);
      continue;
    }
    const entry = newEntry(r.id, r.kind, r.sandboxed, true);
    entry.status = { id: r.id, phase: 'running', startedAt: r.startedAt };
    workloads.set(r.id, entry);
    const cgroups = limits?.mode === 'on' ? limits.cgroups : undefined;
    if (r.limits && cgroups && cgroups.mode !== 'unavailable' && limits?.mode === 'on') {
      // The same cgroup again (its limits unchanged), for the OOM check and the clean-up.
      entry.cgroup = openCgroup(cgroups, r.id, cgroupLimits(r.limits, limits.pids));
      entry.cgroup.catch((err: unknown) => log.error("could not open an adopted job's cgroup", { id: r.id, err: (err as Error).message }));
      entry.ram = r.limits.ram;
      entry.disk = r.limits.disk;
    }
    if (stillRuns(r)) {
      entry.pid = r.pid;
      entry.startTime = r.startTime;
      log.info('adopted a job started before the platform restarted', { id: r.id, pid: r.pid });
    } else {
      const code = records.exitCode(r.id);
      settle(entry, code ?? null, null, code === undefined ? 'lost: its process ended while the platform was down and recorded no exit status' : undefined);
    }
  }
  // Adopted jobs are not this process's children: no exit event, so they are polled.
  const poll = setInterval(() => {
    for (const entry of workloads.values()) {
      if (!entry.adopted || ended(entry) || running(entry)) continue;
      const code = records.exitCode(entry.status.id);
      settle(entry, code ?? null, null, code === undefined ? 'lost: its process ended and recorded no exit status' : undefined);
    }
  }, ADOPTED_POLL_MS);
  poll.unref();
  return poll;
}
