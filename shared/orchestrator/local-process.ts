import { accessSync, constants as fsConstants, readdirSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';

// The processes of the local orchestrator's workloads (local.ts): each in its own process group,
// led by its wrapper (local-record.ts WRAPPER); signalled, and their programs looked up, here.

export function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(osConstants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}

/**
 * A graceful signal to a workload: to its own processes, not to the wrapper (which must live to
 * record the exit code) nor to bwrap (whose death would end the sandbox at once); bwrap exits once
 * the job has, then the wrapper. Before the program runs (only the wrapper, or bwrap), the leader gets it.
 */
export function signalWorkload(pgid: number, signal: NodeJS.Signals, sandboxed: boolean): void {
  const own = groupMembers(pgid).filter((pid) => pid !== pgid && !(sandboxed && commOf(pid) === 'bwrap'));
  if (own.length === 0) {
    signalGroup(pgid, signal);
    return;
  }
  for (const pid of own) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return ''; // ended meanwhile
  }
}

/** Undefined when `program` (a path, or a name looked up on PATH) can be run; else why not. */
export function findProgram(program: string, pathVar: string): string | undefined {
  const candidates = program.includes('/')
    ? [program]
    : pathVar
        .split(':')
        .filter(Boolean)
        .map((d) => path.join(d, program));
  for (const file of candidates) {
    try {
      accessSync(file, fsConstants.X_OK);
      return undefined;
    } catch {
      // not here
    }
  }
  return program.includes('/') ? 'spawn ENOENT (no such executable file)' : `spawn ENOENT (not found on PATH)`;
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The processes of a process group (host pids), from /proc. */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // ended while listed
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses; it ends at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) members.push(Number(name));
  }
  return members;
}
