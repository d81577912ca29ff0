import { listV1, openV1, type V1Parents } from './cgroups-v1.js';
import { listV2, openV2 } from './cgroups-v2.js';
import { CGROUP_ID, CPU_PERIOD_US } from './cgroupfs.js';

/**
 * Hard limits for a workload (a user's job, a model server) in a cgroup of its own: the local
 * orchestrator's counterpart of a pod's limits. The kernel enforces them, so a job's code cannot
 * take the machine's memory, cpu or process table from the platform and the other tenants.
 * cgroup v1 (memory, cpu, pids hierarchies) lives in cgroups-v1.ts, v2 in cgroups-v2.ts, the file
 * handling both share in cgroupfs.ts, and the probe (cgroupSupport) in cgroups-probe.ts.
 */

export interface Limits {
  /** cores, e.g. 0.5 */
  cpu: number;
  /** MiB; swap does not extend it */
  ramMi: number;
  /** processes and threads */
  pids: number;
}

export type CgroupSupport =
  /** root: the memory hierarchy's parent folder; parents: each controller's (cpu may be a `cpu,cpuacct` mount). */
  | { mode: 'v1'; root: string; parents: V1Parents }
  /** root: `<base>/<parentName>`, the parent of every workload's cgroup. */
  | { mode: 'v2'; root: string }
  | { mode: 'unavailable'; reason: string };

export type AvailableCgroups = Extract<CgroupSupport, { mode: 'v1' | 'v2' }>;

export interface WorkloadCgroup {
  id: string;
  /** The cgroup's folders, by controller (one folder for all three on v2): cpu.stat is in `dirs.cpu`. */
  dirs: { memory: string; cpu: string; pids: string };
  /** Files a process writes its own pid into to join (one per v1 controller; one for v2). */
  procsFiles: string[];
  /**
   * The memory limit was hit and the kernel OOM-killed a process of it. v1 kernels without the
   * `oom_kill` counter only say the limit was hit (memory.failcnt): then it counts as a kill when
   * `exit` says the workload died of SIGKILL.
   */
  oomKilled(exit?: { signal: NodeJS.Signals | null }): Promise<boolean>;
  /** Processes in it now (pids as the host sees them). */
  pids(): Promise<number[]>;
  /** SIGKILLs every process in it; answers once it is empty. */
  killAll(): Promise<void>;
  /** Removes its folders (after killAll); idempotent. */
  remove(): Promise<void>;
}

/** One line for the start-up banner. */
export function describeCgroups(s: CgroupSupport): string {
  if (s.mode === 'v1')
    return `cgroup v1: each job and model server runs in a cgroup of its own with hard memory (swap included), cpu quota and process limits, under ${[...new Set(Object.values(s.parents))].join(', ')}`;
  if (s.mode === 'v2') return `cgroup v2: each job and model server runs in a cgroup of its own with hard memory (no swap), cpu quota and process limits, under ${s.root}`;
  return `cgroups are unavailable (${s.reason}): workloads get no hard memory, cpu or process limits`;
}

/** Makes, or takes again (a platform restart re-opens a job that outlived it), the cgroup `id` with these limits. */
export async function openCgroup(s: AvailableCgroups, id: string, limits: Limits): Promise<WorkloadCgroup> {
  checkId(id);
  const checked = checkLimits(limits);
  return s.mode === 'v1' ? openV1(s, id, checked) : openV2(s, id, checked);
}

/** The ids of the cgroups under the platform's parent (leftovers to clean after a crash). */
export async function listCgroups(s: AvailableCgroups): Promise<string[]> {
  return s.mode === 'v1' ? listV1(s) : listV2(s);
}

/** Limits as the kernel files take them: bytes, a cfs quota in µs per 100 ms period, a process count. */
export interface KernelLimits {
  bytes: number;
  quotaUs: number;
  pids: number;
}

export function checkId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !CGROUP_ID.test(id)) throw new TypeError(`a cgroup id is 1 to 80 of [a-z0-9-], not ${JSON.stringify(id)}`);
}

export function checkLimits(limits: Limits): KernelLimits {
  const { cpu, ramMi, pids } = (limits ?? {}) as Partial<Limits>;
  const positive = (name: string, v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`cgroup limit ${name} must be a finite number > 0, not ${String(v)}`);
    return v;
  };
  const bytes = Math.round(positive('ramMi', ramMi) * 1024 * 1024);
  // The kernel's cfs quota floor is 1 ms per period.
  const quotaUs = Math.max(1000, Math.round(positive('cpu', cpu) * CPU_PERIOD_US));
  const count = positive('pids', pids);
  if (!Number.isSafeInteger(bytes) || !Number.isSafeInteger(quotaUs)) throw new TypeError(`cgroup limits out of range: ramMi ${ramMi}, cpu ${cpu}`);
  if (!Number.isSafeInteger(count)) throw new TypeError(`cgroup limit pids must be a whole number, not ${count}`);
  return { bytes, quotaUs, pids: count };
}
