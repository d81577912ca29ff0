import { spawn } from 'node:child_process';
import { mkdir, readFile, readdir, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { findV1Parents, listV1, openV1, v1Dirs, type V1Parents } from './cgroups-v1.js';
import { listV2, openV2, v2Dirs } from './cgroups-v2.js';

/**
 * Hard limits for a workload (a user's job, a model server) in a cgroup of its own: the local
 * orchestrator's counterpart of a pod's limits. The kernel enforces them, so a job's code cannot
 * take the machine's memory, cpu or process table from the platform and the other tenants.
 * cgroup v1 (memory, cpu, pids hierarchies) lives in cgroups-v1.ts, v2 in cgroups-v2.ts.
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

export const CGROUP_ID = /^[a-z0-9-]{1,80}$/;
const NEEDED = ['memory', 'cpu', 'pids'] as const;
export const CPU_PERIOD_US = 100_000;

/** Probes once per process (per base and parent name): can this process make a limited cgroup and move a process into it? Never throws. */
export function cgroupSupport(opts: { base?: string; parentName?: string } = {}): Promise<CgroupSupport> {
  const base = opts.base ?? '/sys/fs/cgroup';
  const parentName = opts.parentName ?? 'mlp';
  const key = `${base}\0${parentName}`;
  let probe = probes.get(key);
  if (!probe) {
    probe = probeSupport(base, parentName).catch((err: unknown) => ({ mode: 'unavailable' as const, reason: reasonOf(err) }));
    probes.set(key, probe);
  }
  return probe;
}
const probes = new Map<string, Promise<CgroupSupport>>();

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

// ---- cgroupfs helpers shared by the v1 and v2 code (function declarations: safe across the import cycle) ----

/** An fs error retold with the file and what was being done; `code` kept for callers that branch on it. */
export function fsError(action: string, file: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const hint = code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? ' — run the platform as root or delegate a cgroup to its user' : '';
  const e = new Error(`cannot ${action} ${file}: ${code ?? (err as Error | undefined)?.message ?? String(err)}${hint}`, { cause: err });
  (e as NodeJS.ErrnoException).code = code;
  return e;
}

export const errCode = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | undefined)?.code;

export async function writeControl(file: string, value: string | number): Promise<void> {
  try {
    await writeFile(file, String(value));
  } catch (err) {
    throw fsError(`write ${value} to`, file, err);
  }
}

export async function readControl(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw fsError('read', file, err);
  }
}

/** `key value` lines (memory.events, memory.oom_control, cpu.stat) as numbers. */
export function keyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = Number(v);
  }
  return out;
}

export async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    if (errCode(err) === 'ENOENT') return false;
    throw fsError('stat', file, err);
  }
}

export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw fsError('make', dir, err);
  }
}

/** The cgroup folders (directories only) under `parent` whose names are ids. */
export async function childIds(parent: string): Promise<string[]> {
  try {
    const entries = await readdir(parent, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && CGROUP_ID.test(e.name)).map((e) => e.name);
  } catch (err) {
    if (errCode(err) === 'ENOENT') return [];
    throw fsError('list', parent, err);
  }
}

export const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The pids listed in these cgroup.procs files; a file gone (the cgroup removed) lists none. */
export async function readProcs(files: string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (errCode(err) === 'ENOENT') continue;
      throw fsError('read', file, err);
    }
    for (const word of text.split(/\s+/)) if (/^\d+$/.test(word)) pids.add(Number(word));
  }
  return [...pids].sort((a, b) => a - b);
}

/** SIGKILLs what the procs files list until they list nothing; a fork racing the kills is caught by the next round. */
export async function killUntilEmpty(files: string[], rounds = 100): Promise<void> {
  let left: number[] = [];
  for (let round = 0; round < rounds; round++) {
    left = await readProcs(files);
    if (left.length === 0) return;
    if (left.includes(process.pid)) throw new Error(`refusing to kill the platform's own process, which is in ${files.join(', ')}`);
    for (const pid of left) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch (err) {
        if (errCode(err) !== 'ESRCH') throw new Error(`cannot SIGKILL ${pid} of ${files[0]}: ${errCode(err) ?? String(err)}`, { cause: err });
      }
    }
    // A killed process stays listed until it has exited.
    await pause(round < 20 ? 5 : 25);
  }
  throw new Error(`${files[0]} still lists ${left.join(' ')} after ${rounds} rounds of SIGKILL`);
}

/** rmdir of each folder: gone already is fine; busy (a process just leaving) is retried, then reported. */
export async function removeDirs(dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    for (let attempt = 1; ; attempt++) {
      try {
        await rmdir(dir);
        break;
      } catch (err) {
        const code = errCode(err);
        if (code === 'ENOENT') break;
        if (code !== 'EBUSY' || attempt >= 6) throw fsError('remove', dir, err);
        await pause(50 * attempt);
      }
    }
  }
}

export function handle(o: { id: string; dirs: WorkloadCgroup['dirs']; procsFiles: string[]; killFile?: string; oomKilled: WorkloadCgroup['oomKilled'] }): WorkloadCgroup {
  const folders = [...new Set(Object.values(o.dirs))];
  return {
    id: o.id,
    dirs: o.dirs,
    procsFiles: o.procsFiles,
    oomKilled: o.oomKilled,
    pids: () => readProcs(o.procsFiles),
    killAll: async () => {
      // v2's cgroup.kill kills atomically, forks in flight included; the loop then waits for the exits.
      if (o.killFile && (await exists(o.killFile))) await writeControl(o.killFile, 1);
      await killUntilEmpty(o.procsFiles);
    },
    remove: () => removeDirs(folders),
  };
}

export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---- the probe ----

async function probeSupport(base: string, parentName: string): Promise<CgroupSupport> {
  if (process.platform !== 'linux') return { mode: 'unavailable', reason: `cgroups are Linux's; this is ${process.platform}` };
  if (!/^[A-Za-z0-9_][A-Za-z0-9._-]{0,80}$/.test(parentName)) return { mode: 'unavailable', reason: `parent cgroup name ${JSON.stringify(parentName)} is not a plain folder name` };
  const s = await detect(base, parentName);
  if (s.mode === 'unavailable') return s;
  const id = `probe-${process.pid}`;
  const problems: string[] = [];
  try {
    const cg = await openCgroup(s, id, { cpu: 0.5, ramMi: 64, pids: 16 });
    await joinCheck(cg);
  } catch (err) {
    problems.push(reasonOf(err));
  }
  // Whatever happened, the probe leaves nothing behind (a failed open may have made folders).
  try {
    const dirs = s.mode === 'v1' ? v1Dirs(s, id) : v2Dirs(s, id);
    await killUntilEmpty([...new Set(Object.values(dirs))].map((d) => path.join(d, 'cgroup.procs')));
    await removeDirs([...new Set(Object.values(dirs))]);
  } catch (err) {
    problems.push(`cleaning up the probe: ${reasonOf(err)}`);
  }
  return problems.length ? { mode: 'unavailable', reason: problems.join('; ') } : s;
}

async function detect(base: string, parentName: string): Promise<CgroupSupport> {
  const controllersFile = path.join(base, 'cgroup.controllers');
  if (await exists(controllersFile)) {
    const offered = (await readControl(controllersFile)).split(/\s+/);
    const missing = NEEDED.filter((c) => !offered.includes(c));
    if (missing.length) return { mode: 'unavailable', reason: `cgroup v2 at ${base} does not offer the ${missing.join(', ')} controller(s) (it offers: ${offered.join(' ').trim() || 'none'})` };
    return { mode: 'v2', root: path.join(base, parentName) };
  }
  const found = await findV1Parents(base, parentName);
  if (typeof found === 'string') return { mode: 'unavailable', reason: found };
  return { mode: 'v1', root: found.memory, parents: found };
}

/** Moves a short-lived child in the way the orchestrator's wrapper does, and checks the cgroup lists it. */
async function joinCheck(cg: WorkloadCgroup): Promise<void> {
  const script = `for f in ${cg.procsFiles.map(shellQuote).join(' ')}; do echo $$ > "$f" || exit 97; done; echo joined; exec sleep 30`;
  const child = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => resolve(`cannot start /bin/sh: ${err.message}`));
    child.once('exit', (code, signal) => resolve(`exit ${code ?? signal}`));
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const joined = new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('joined')) resolve();
    });
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  try {
    const early = await Promise.race([joined.then(() => undefined), exited]);
    if (early !== undefined) throw new Error(`a process could not join the cgroup (${early}): ${err.trim().slice(0, 300) || 'no output'}`);
    const listed = await cg.pids();
    if (child.pid === undefined || !listed.includes(child.pid)) throw new Error(`a process wrote its pid into ${cg.procsFiles.join(', ')} but the cgroup lists ${listed.join(' ') || 'nothing'}`);
    await cg.killAll();
    const end = await exited;
    if (!end.includes('SIGKILL')) throw new Error(`the probe's process ended with ${end}, not by killAll's SIGKILL`);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
