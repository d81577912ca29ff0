import { readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

/**
 * Who holds a lease, precisely enough that a process on the same host can prove the holder
 * is gone: the same kernel boot and pid namespace, and no process with that pid and start
 * time. Without Linux's /proc nothing is provable and stale leases wait for their TTL.
 */
export interface ProcessIdentity {
  host: string;
  pid: number;
  boot?: string;
  pidns?: string;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat, field 22). */
  start?: string;
}

export function selfIdentity(): ProcessIdentity {
  return {
    host: os.hostname(),
    pid: process.pid,
    boot: readProc(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidns: readProc(() => readlinkSync('/proc/self/ns/pid')),
    start: startTime(process.pid),
  };
}

/** True only when `holder` provably no longer runs; false when it runs or nobody can tell. */
export function holderIsGone(holder: ProcessIdentity | undefined, self: ProcessIdentity): boolean {
  if (!holder || !self.boot || !self.pidns || !holder.start) return false;
  if (holder.host !== self.host || holder.boot !== self.boot || holder.pidns !== self.pidns) return false;
  return startTime(holder.pid) !== holder.start; // gone, or its pid now belongs to a newer process
}

function startTime(pid: number): string | undefined {
  const stat = readProc(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  // Fields after "(comm)", which may itself hold spaces or ")": state is field 3, starttime 22.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

/** A /proc entry that does not exist (no such process, or not Linux) reads as undefined. */
function readProc(read: () => string): string | undefined {
  try {
    return read();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
