import { mkdir, readFile, readdir, rmdir, stat, writeFile } from 'node:fs/promises';
import type { WorkloadCgroup } from './cgroups.js';

// cgroupfs: the files of cgroups read and written, their processes killed, their folders made and
// removed, for the v1 and v2 code (cgroups-v1.ts, cgroups-v2.ts) and the probe (cgroups-probe.ts).

export const CGROUP_ID = /^[a-z0-9-]{1,80}$/;
export const CPU_PERIOD_US = 100_000;

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
