import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What the local orchestrator keeps of a workload on disk, so a job outlives the platform: its
 * wrapper's process id and that process's start time (a pid alone may since name another process),
 * and, once the workload ends, the exit code its wrapper wrote. The folder is the platform's own
 * (under MLP_ROOT, outside every sandbox): a job cannot forge its own outcome.
 */
export interface WorkloadRecord {
  id: string;
  kind: 'job' | 'app';
  /** The wrapper's pid: the leader of the workload's process group; 0 while it is being started. */
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot) when it was started. */
  startTime: string;
  startedAt: string;
  sandboxed: boolean;
  /** What a limited job asked for and its workspace's bound: its cgroup is opened again with them after a restart. */
  limits?: { cpu: number; ram: number; disk: { dir: string; bytes: number } };
}

/**
 * The wrapper every local workload runs under (`sh -c WRAPPER mlp-workload <exit file> <program> <args…>`):
 * it runs the program as its child (stdout and stderr straight to the log file it inherited), then
 * writes its exit status to the exit file — atomically, by rename — and exits with it. A program
 * killed by signal n reads as 128 + n, as from bwrap.
 */
export const WRAPPER = 'f=$1; shift; "$@"; c=$?; printf "%s" "$c" > "$f.tmp" && mv -f "$f.tmp" "$f"; exit $c';

export function recordStore(dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = (id: string, ext: string) => path.join(dir, `${encodeURIComponent(id)}.${ext}`);
  return {
    dir,
    exitFile: (id: string) => file(id, 'exit'),
    /** Written once the wrapper runs; by rename, so a crash never leaves half a record. */
    write(r: WorkloadRecord): void {
      const target = file(r.id, 'json');
      writeFileSync(`${target}.tmp`, JSON.stringify(r), { mode: 0o600 });
      renameSync(`${target}.tmp`, target);
    },
    all(): WorkloadRecord[] {
      const out: WorkloadRecord[] = [];
      for (const name of readdirSync(dir)) {
        if (!name.endsWith('.json')) continue;
        try {
          out.push(JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as WorkloadRecord);
        } catch (err) {
          // Records are written by rename: an unreadable one was not written by this code.
          throw new Error(`unreadable workload record ${path.join(dir, name)}: ${(err as Error).message}`);
        }
      }
      return out;
    },
    /** The exit code the wrapper wrote, or undefined if it has not (still running, or killed). */
    exitCode(id: string): number | undefined {
      let text: string;
      try {
        text = readFileSync(file(id, 'exit'), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const code = Number(text.trim());
      return Number.isInteger(code) ? code : undefined;
    },
    remove(id: string): void {
      for (const ext of ['json', 'json.tmp', 'exit', 'exit.tmp']) rmSync(file(id, ext), { force: true });
    },
    /** A new start of an id begins with no outcome of an earlier one. */
    clearExit(id: string): void {
      for (const ext of ['exit', 'exit.tmp']) rmSync(file(id, ext), { force: true });
    },
  };
}

export type RecordStore = ReturnType<typeof recordStore>;

/** pid's start time (field 22 of /proc/<pid>/stat), or undefined when no live (non-zombie) process has that pid. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // pid (comm) state ppid …: comm may hold spaces and parentheses; it ends at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined; // ended; only its parent has not reaped it
  return fields[19];
}

/**
 * The wrapper started for `exitFile`, found by its command line (`sh -c WRAPPER mlp-workload <exitFile> …`):
 * for a record written just before the spawn, when the platform died before it could note the pid.
 */
export function findWrapper(exitFile: string): { pid: number; startTime: string } | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // ended while listed
    }
    if (argv[1] !== '-c' || argv[2] !== WRAPPER || argv[3] !== 'mlp-workload' || argv[4] !== exitFile) continue;
    const startTime = processStartTime(Number(name));
    if (startTime) return { pid: Number(name), startTime };
  }
  return undefined;
}

/** The process the record names still runs: same pid and the same start time (not a recycled pid). */
export const stillRuns = (r: Pick<WorkloadRecord, 'pid' | 'startTime'>): boolean => processStartTime(r.pid) === r.startTime;

/**
 * Ends every workload recorded in `dir` that still runs (its whole process group): for whoever
 * discards a platform's MLP_ROOT for good (a test platform's), where no later start would adopt them.
 */
export function endRecorded(dir: string): void {
  let list: WorkloadRecord[];
  try {
    list = recordStore(dir).all();
  } catch {
    return; // no such folder: nothing was ever recorded
  }
  for (const r of list) {
    if (!stillRuns(r)) continue;
    try {
      process.kill(-r.pid, 'SIGKILL');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}
