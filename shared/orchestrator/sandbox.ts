import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { WorkloadSandbox } from './port.js';

/**
 * The local job sandbox (design.md "Tenants are hostile to each other"; API.md §12
 * MLP_JOB_SANDBOX): bubblewrap (`bwrap`) runs a job with
 * - a user id of its own (a user namespace: the job is SANDBOX_UID, never the platform's uid,
 *   and has no capabilities; it may not make further user namespaces);
 * - a private view of the filesystem: an empty root with the system's programs and libraries
 *   read-only (/usr and its /bin, /lib… links, a few files of /etc, node), a private /tmp,
 *   its own /proc and a minimal /dev, and then only the workload's paths at the paths it is
 *   told: the writable ones (the workspace) and the read-only ones (its home, its own datasets
 *   folder, the platform's node_modules and runtime files). Nothing else of MLP_ROOT exists;
 * - its own pid namespace (it sees only its own processes; when the sandbox ends, the kernel
 *   ends everything left in it, even processes that left the job's process group), and its
 *   own ipc and uts namespaces;
 * - the host's network (the job calls MLP_API on the loopback).
 */

/** How the local orchestrator runs workloads that ask for a sandbox. */
export type SandboxSupport =
  /** In bwrap (found and probed). */
  | { mode: 'on'; bwrap: string; uid: number; gid: number }
  /** The operator's MLP_JOB_SANDBOX=off: unconfined, as the platform's own user. */
  | { mode: 'off' }
  /** MLP_JOB_SANDBOX=on, but bwrap is missing or failed its probe: such workloads are refused. */
  | { mode: 'unavailable'; reason: string };

/** The uid and gid a job has inside its sandbox: fixed, and never the platform's own. */
export const SANDBOX_UID = 10001;

const ownIds = (): { uid: number; gid: number } => {
  const uid = process.getuid?.() ?? -1;
  const gid = process.getgid?.() ?? -1;
  return { uid: uid === SANDBOX_UID ? SANDBOX_UID + 1 : SANDBOX_UID, gid: gid === SANDBOX_UID ? SANDBOX_UID + 1 : SANDBOX_UID };
};

/** What MLP_JOB_SANDBOX asks for, as it can be had on this machine (the probe runs once per process). */
export async function sandboxSupport(setting: 'on' | 'off'): Promise<SandboxSupport> {
  if (setting === 'off') return { mode: 'off' };
  probed ??= probe();
  return probed;
}
let probed: Promise<SandboxSupport> | undefined;

/** One line for the start-up banner and the logs. */
export function describeSandbox(s: SandboxSupport): string {
  if (s.mode === 'on') return `jobs run sandboxed by bubblewrap (${s.bwrap}): uid ${s.uid}, a private filesystem (workspace writable; home and datasets read-only; nothing else of MLP_ROOT), their own pid namespace`;
  if (s.mode === 'off') return 'MLP_JOB_SANDBOX=off: jobs run UNCONFINED as the platform\'s own user and can read its signing key, its store and every user\'s files — for a single-user machine only';
  return `the job sandbox is unavailable (${s.reason}), so jobs are refused: the operator must install bubblewrap (apt-get install bubblewrap; npm start does so when run as root) or, on a single-user machine, set MLP_JOB_SANDBOX=off`;
}

/** bwrap on PATH (or in /usr/bin), executable. */
export function findBwrap(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    const file = path.join(dir, 'bwrap');
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here; the next directory
    }
  }
  return undefined;
}

/** Runs node inside a sandbox as a job would be run, and checks what it sees: its uid, a pid namespace, no host files. */
async function probe(): Promise<SandboxSupport> {
  const bwrap = findBwrap();
  if (!bwrap) return { mode: 'unavailable', reason: 'bwrap (Debian package bubblewrap) is not on PATH' };
  const ids = ownIds();
  const support = { mode: 'on' as const, bwrap, ...ids };
  // Inside: the sandbox uid, pid 2 (bwrap's reaper is 1), and none of the host's processes or files.
  const check = `const fs = require('node:fs');
    const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p));
    const ok = process.getuid() === ${ids.uid} && pids.length <= 3 && !fs.existsSync('/root') && !fs.existsSync('/home');
    console.log(ok ? 'sandbox ok' : 'sandbox leaky: uid ' + process.getuid() + ', pids ' + pids.join(' '));
    process.exit(ok ? 0 : 1);`;
  // NODE_OPTIONS may name preloads outside the probe's view (a test runner's hooks add them to every child).
  const argv = ['--unsetenv', 'NODE_OPTIONS', ...bwrapArgs({ command: [process.execPath, '-e', check], workdir: '/', sandbox: { writable: [], readOnly: [] } }, support)];
  const outcome = await new Promise<{ code: number | null; out: string }>((resolve) => {
    let out = '';
    const child = spawn(bwrap, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, out: err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
  if (outcome.code === 0 && outcome.out.includes('sandbox ok')) return support;
  const said = outcome.out.trim().split('\n').slice(-2).join('; ').slice(0, 300);
  return { mode: 'unavailable', reason: `${bwrap} failed its probe (exit ${outcome.code ?? 'none'}): ${said || 'no output'}` };
}

/** Read-only system files a program needs (name resolution, TLS roots, the loader's cache, time zone). */
const ETC = ['hosts', 'resolv.conf', 'nsswitch.conf', 'host.conf', 'gai.conf', 'services', 'protocols', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'localtime', 'alternatives', 'mime.types'];

const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
const depth = (p: string) => p.split('/').filter(Boolean).length;

/**
 * The bwrap arguments that run `w.command` in `w.workdir` inside the sandbox `w.sandbox`.
 * Exported for the probe and the tests; the orchestrator spawns `support.bwrap` with them.
 */
export function bwrapArgs(w: { command: string[]; workdir: string; sandbox: WorkloadSandbox; tmpBytes?: number }, support: { uid: number; gid: number }): string[] {
  const args = [
    '--unshare-user', '--uid', String(support.uid), '--gid', String(support.gid), '--disable-userns', '--cap-drop', 'ALL',
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--hostname', 'mlp-job', '--unshare-cgroup-try',
    // bwrap's reaper gets SIGKILL if bwrap is killed, and bwrap if its parent dies: the pid namespace,
    // and all in it, ends with them. Its parent is the workload's wrapper (local-record.ts), not the
    // platform: a job outlives the platform's process.
    '--die-with-parent',
  ];
  const roots: string[] = []; // what the system part binds
  const ro = (p: string) => {
    args.push('--ro-bind', p, p);
    roots.push(p);
  };
  ro('/usr');
  // /bin, /lib… are links into /usr on merged-/usr systems, real folders on older ones.
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const p = `/${name}`;
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
    else if (st.isDirectory()) ro(p);
  }
  for (const name of ETC) {
    const p = `/etc/${name}`;
    if (existsSync(p)) args.push('--ro-bind', p, p);
  }
  // node, wherever it is installed (a prefix outside /usr: nvm, /opt/node…).
  for (const program of [process.execPath, realpathSafe(process.execPath)]) {
    if (roots.some((r) => under(program, r))) continue;
    const bin = path.dirname(program);
    const prefix = path.basename(bin) === 'bin' ? path.dirname(bin) : bin;
    if (prefix !== '/') ro(prefix);
    else args.push('--ro-bind', program, program);
  }
  // A private /tmp (in memory: bounded by the workload's ram when given), /var/tmp the same folder.
  args.push('--proc', '/proc', '--dev', '/dev', ...(w.tmpBytes ? ['--size', String(Math.floor(w.tmpBytes))] : []), '--tmpfs', '/tmp', '--symlink', '../tmp', '/var/tmp');
  // Folders whose contents must not show (MLP_ROOT): an empty tmpfs, even should a system bind
  // hold them (MLP_ROOT under /usr or node's prefix); read-only once the workload's paths are in.
  const hidden = (w.sandbox.hidden ?? []).map((p) => path.resolve(p));
  for (const p of hidden) args.push('--tmpfs', p);
  // Then the workload's own paths, outer before inner (a read-only folder may hold a writable one).
  const own = [
    ...w.sandbox.readOnly.map((p) => ({ p: path.resolve(p), flag: existsSync(p) ? '--ro-bind' : '--ro-bind-try' })),
    ...w.sandbox.writable.map((p) => ({ p: path.resolve(p), flag: '--bind' })),
  ].sort((a, b) => depth(a.p) - depth(b.p));
  for (const { p, flag } of own) args.push(flag, p, p);
  for (const p of hidden) args.push('--remount-ro', p);
  args.push('--remount-ro', '/'); // the skeleton bwrap built is not a place to write either
  args.push('--chdir', w.workdir, '--', ...w.command);
  return args;
}

function realpathSafe(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
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
