import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { WorkloadSandbox } from './port.js';
import { canMapUids, closeUserns, jobUserns } from './userns.js';

/**
 * The local job sandbox (docs/security.md; docs/configuration.md
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
 * - its own network namespace with only a loopback: no port of the host (other jobs, model
 *   servers, the store, the bus, the gateway itself) can be reached, and what it listens on is
 *   reachable by nobody outside. The one way out is the API: socat, inside, listens on MLP_API's
 *   port on the sandbox's loopback and forwards each connection to a Unix socket the platform
 *   serves (api-bridge.ts), bound into the sandbox at API_SOCKET_DIR.
 */

/** How the local orchestrator runs workloads that ask for a sandbox. */
export type SandboxSupport =
  /** In bwrap (found and probed). */
  /** hostUids: each job runs as its user's own host uid (userns.ts; the platform runs as root), else as the platform's uid. */
  | { mode: 'on'; bwrap: string; uid: number; gid: number; hostUids: boolean }
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

/** Where the platform's API socket is inside a sandbox (the host folder is bound there, read-only). */
export const API_SOCKET_DIR = '/run/mlp';
export const API_SOCKET_NAME = 'api.sock';

/** The network a sandboxed workload gets: its own namespace, and the API through `socketDir` on `apiHost:apiPort`. */
export interface SandboxNetwork {
  /** Host folder holding the platform's API socket (API_SOCKET_NAME). */
  socketDir: string;
  /** MLP_API's host name and port, as the workload calls them (the name resolves to its own loopback). */
  apiHost: string;
  apiPort: number;
}

/** What MLP_JOB_SANDBOX asks for, as it can be had on this machine (the probe runs once per process). */
export async function sandboxSupport(setting: 'on' | 'off'): Promise<SandboxSupport> {
  if (setting === 'off') return { mode: 'off' };
  probed ??= probe();
  return probed;
}
let probed: Promise<SandboxSupport> | undefined;

/** One line for the start-up banner and the logs. */
export function describeSandbox(s: SandboxSupport): string {
  if (s.mode === 'on')
    return `jobs run sandboxed by bubblewrap (${s.bwrap}): uid ${s.uid}, on the host ${s.hostUids ? "their user's own unprivileged uid" : "the platform's own uid (it is not root, so it cannot give them one of their own)"}, no capabilities, a private filesystem (workspace writable; home and datasets read-only; nothing else of MLP_ROOT), their own pid namespace, their own network with only the API reachable (through socat); model servers likewise, with only their model read-only, reached on a Unix socket`;
  if (s.mode === 'off')
    return "MLP_JOB_SANDBOX=off: jobs and model servers run UNCONFINED as the platform's own user and can read its signing key, its store and every user's files — for a single-user machine only";
  return `the job sandbox is unavailable (${s.reason}), so jobs and model servers are refused: the operator must install bubblewrap and socat (apt-get install bubblewrap socat; npm start does so when run as root) or, on a single-user machine, set MLP_JOB_SANDBOX=off`;
}

/** bwrap on PATH (or in /usr/bin), executable. */
export const findBwrap = (): string | undefined => findProgram('bwrap');

/** `name` on PATH (or in /usr/bin, /bin, /usr/local/bin), executable. */
export function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    const file = path.join(dir, name);
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
  // The sandbox's only way to the API; inside it, it must be at a path the sandbox sees (/usr).
  const socat = findProgram('socat');
  if (!socat) return { mode: 'unavailable', reason: "socat (Debian package socat), which carries a job's API calls out of its network namespace, is not on PATH" };
  if (!socat.startsWith('/usr/') && !socat.startsWith('/bin/')) return { mode: 'unavailable', reason: `socat is at ${socat}, outside /usr and /bin, which the sandbox does not show` };
  const ids = ownIds();
  const hostUids = canMapUids();
  const support = { mode: 'on' as const, bwrap, ...ids, hostUids };
  // Inside: the sandbox uid, pid 2 (bwrap's reaper is 1), and none of the host's processes or files.
  const check = `const fs = require('node:fs');
    const pids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p));
    const links = fs.readFileSync('/proc/net/dev', 'utf8').split('\\n').slice(2).map((l) => l.split(':')[0].trim()).filter(Boolean);
    const outside = (fs.readFileSync('/proc/self/uid_map', 'utf8').split('\\n').map((l) => l.trim().split(/\\s+/)).find((f) => f[0] === '${ids.uid}') || [])[1];
    const ok = process.getuid() === ${ids.uid} && pids.length <= 3 && !fs.existsSync('/root') && !fs.existsSync('/home') && links.join() === 'lo' && ${hostUids ? `outside === '${PROBE_HOST_UID}'` : 'true'};
    console.log(ok ? 'sandbox ok' : 'sandbox leaky: uid ' + process.getuid() + ' (host ' + outside + '), pids ' + pids.join(' ') + ', network ' + links.join(' '));
    process.exit(ok ? 0 : 1);`;
  // Run exactly as a job is: in a user namespace the platform made, when it can make one.
  let usernsFd: number | undefined;
  try {
    usernsFd = hostUids ? await jobUserns(ids.uid, PROBE_HOST_UID) : undefined;
  } catch (err) {
    return { mode: 'unavailable', reason: `a user namespace for a job's own uid could not be made (util-linux unshare): ${(err as Error).message}` };
  }
  const [shell = '/bin/sh', ...argv] = bwrapCommand(bwrap, [
    ...bwrapArgs({ command: [process.execPath, '-e', check], workdir: '/', sandbox: { writable: [], readOnly: [] }, network: 'none', ...(usernsFd !== undefined ? { usernsFd: 3 } : {}) }, support),
  ]);
  const outcome = await new Promise<{ code: number | null; out: string }>((resolve) => {
    let out = '';
    const child = spawn(shell, argv, { stdio: ['ignore', 'pipe', 'pipe', ...(usernsFd !== undefined ? [usernsFd] : [])], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    closeUserns(usernsFd);
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
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
  const said = outcome.out.trim().split('\n').slice(-12).join('; ').slice(0, 1500);
  return { mode: 'unavailable', reason: `${bwrap} failed its probe (exit ${outcome.code ?? 'none'}): ${said || 'no output'}` };
}

/** The host uid the probe's sandbox runs as (a user's would do; this one is no user's in particular). */
const PROBE_HOST_UID = 2 ** 30 - 2;

/** Read-only system files a program needs (name resolution, TLS roots, the loader's cache, time zone). */
const ETC = [
  'hosts',
  'resolv.conf',
  'nsswitch.conf',
  'host.conf',
  'gai.conf',
  'services',
  'protocols',
  'ssl',
  'ca-certificates',
  'ca-certificates.conf',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'localtime',
  'alternatives',
  'mime.types',
];

const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
const depth = (p: string) => p.split('/').filter(Boolean).length;

/**
 * The bwrap arguments that run `w.command` in `w.workdir` inside the sandbox `w.sandbox`.
 * Exported for the probe and the tests; the orchestrator spawns `support.bwrap` with them.
 */
export function bwrapArgs(
  w: { command: string[]; workdir: string; sandbox: WorkloadSandbox; tmpBytes?: number; network: SandboxNetwork | 'none'; usernsFd?: number },
  support: { uid: number; gid: number },
): string[] {
  // Either bwrap makes the user namespace (the sandbox uid is then the caller's own uid on the
  // host), or it enters one the platform made (userns.ts: the sandbox uid is the job's own host
  // uid) and the command drops to that uid itself, keeping nothing (see `asJob`: setpriv needs
  // CAP_SETUID/CAP_SETGID to drop the ids and CAP_SETPCAP to empty the bounding set).
  const user =
    w.usernsFd === undefined
      ? ['--unshare-user', '--uid', String(support.uid), '--gid', String(support.gid), '--disable-userns', '--cap-drop', 'ALL']
      : ['--userns', String(w.usernsFd), '--cap-drop', 'ALL', '--cap-add', 'CAP_SETUID', '--cap-add', 'CAP_SETGID', '--cap-add', 'CAP_SETPCAP'];
  const args = [
    ...user,
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--hostname',
    'mlp-job',
    '--unshare-cgroup-try',
    '--unshare-net',
    // bwrap's reaper gets SIGKILL if bwrap is killed, and bwrap if its parent dies: the pid namespace,
    // and all in it, ends with them. Its parent is the workload's wrapper (local-record.ts), not the
    // platform: a job outlives the platform's process.
    '--die-with-parent',
    // Its environment is what it was given: no preloads a parent's NODE_OPTIONS names (a test
    // runner adds its hooks to every child; they live outside the sandbox's view).
    '--unsetenv',
    'NODE_OPTIONS',
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
    // The sandbox's own hosts file names MLP_API's host as its loopback (where socat listens).
    if (name === 'hosts' && w.network !== 'none') continue;
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
  args.push('--proc', '/proc', '--dev', '/dev', ...(w.tmpBytes ? ['--size', String(Math.floor(w.tmpBytes))] : []), '--perms', '1777', '--tmpfs', '/tmp', '--symlink', '../tmp', '/var/tmp');
  // Folders whose contents must not show (MLP_ROOT): an empty tmpfs, even should a system bind
  // hold them (MLP_ROOT under /usr or node's prefix); read-only once the workload's paths are in.
  const hidden = (w.sandbox.hidden ?? []).map((p) => path.resolve(p));
  for (const p of hidden) args.push('--perms', '0755', '--tmpfs', p);
  // Then the workload's own paths, outer before inner (a read-only folder may hold a writable one).
  const own = [
    ...w.sandbox.readOnly.map((p) => ({ p: path.resolve(p), flag: existsSync(p) ? '--ro-bind' : '--ro-bind-try' })),
    ...w.sandbox.writable.map((p) => ({ p: path.resolve(p), flag: '--bind' })),
  ].sort((a, b) => depth(a.p) - depth(b.p));
  for (const { p, flag } of own) args.push(flag, p, p);
  if (w.network !== 'none') args.push('--ro-bind', w.network.socketDir, API_SOCKET_DIR, '--ro-bind', path.join(w.network.socketDir, HOSTS_FILE), '/etc/hosts');
  for (const d of passages(args)) args.push('--chmod', '0755', d);
  for (const p of hidden) args.push('--remount-ro', p);
  args.push('--remount-ro', '/'); // the skeleton bwrap built is not a place to write either
  const command = w.network === 'none' ? w.command : throughApi(w.command, w.network);
  if (w.usernsFd === undefined) args.push('--chdir', w.workdir, '--', ...command);
  else args.push('--', ...asJob(support, w.usernsFd, w.workdir, command));
  return args;
}

/**
 * The command as the job's uid, for good: setpriv (util-linux) takes the sandbox uid and gid, no
 * supplementary groups, no capabilities in any set, and no_new_privs (no setuid program can give
 * any back); then the working folder, which may be the job's own and closed to others.
 */
function asJob(ids: { uid: number; gid: number }, usernsFd: number, workdir: string, command: string[]): string[] {
  // bwrap leaves the namespace's descriptor open: it goes here, before the job's code runs.
  return [
    '/usr/bin/setpriv',
    `--reuid=${ids.uid}`,
    `--regid=${ids.gid}`,
    '--clear-groups',
    '--inh-caps=-all',
    '--bounding-set=-all',
    '--no-new-privs',
    '--',
    '/bin/sh',
    '-c',
    `exec ${usernsFd}<&- && umask 077 && cd "$0" && exec "$@"`,
    workdir,
    ...command,
  ];
}

/**
 * bwrap under a umask that lets every uid pass the folders it makes on the way to what it binds
 * (the platform's own umask, 077, would close /etc and the rest of the sandbox's skeleton to a
 * job that is not root of it); the job itself runs under 077 again (asJob).
 */
export function bwrapCommand(bwrap: string, args: string[]): string[] {
  return ['/bin/sh', '-c', 'umask 022 && exec "$@"', 'mlp-sandbox', bwrap, ...args];
}

/**
 * The folders bwrap made on the way to what it mounts (/etc, /run, the folders above a workspace
 * in the hidden MLP_ROOT…), outer first: bwrap may make them 0700, and a job that is not root of
 * its namespace must pass them. Never a folder inside a bound one (the host's own), nor a mounted
 * tmpfs (/tmp keeps its 1777).
 */
function passages(args: string[]): string[] {
  const TWO = new Set(['--bind', '--bind-try', '--ro-bind', '--ro-bind-try', '--symlink']);
  const ONE = new Set(['--tmpfs', '--proc', '--dev']);
  const binds: string[] = [];
  const mounted: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] ?? '';
    if (TWO.has(flag)) {
      const dest = args[i + 2] ?? '';
      mounted.push(dest);
      if (flag !== '--symlink') binds.push(dest);
      i += 2;
    } else if (ONE.has(flag)) {
      mounted.push(args[i + 1] ?? '');
      i += 1;
    } else if (flag === '--') break;
  }
  const out = new Set<string>();
  for (const p of mounted) {
    for (let d = path.dirname(p); d !== '/' && !mounted.includes(d) && !binds.some((b) => under(d, b)); d = path.dirname(d)) out.add(d);
  }
  return [...out].sort((a, b) => depth(a) - depth(b));
}

/** The hosts file bound at /etc/hosts in sandboxes (written by the API bridge beside its socket). */
export const HOSTS_FILE = 'hosts';

/** What /etc/hosts says inside: the loopback, under MLP_API's host name too. */
export function sandboxHosts(apiHost: string): string {
  const names = ['localhost', 'mlp-job', ...(/^[A-Za-z0-9.-]+$/.test(apiHost) && !/^[\d.]+$/.test(apiHost) && apiHost !== 'localhost' ? [apiHost] : [])];
  return `127.0.0.1\t${names.join(' ')}\n::1\tlocalhost ip6-localhost ip6-loopback\n`;
}

/**
 * The workload's command behind the API forwarder: socat listens on MLP_API's port on the
 * sandbox's loopback (ready before the workload runs: the shell waits until /proc/net/tcp lists
 * the listening socket), then the shell becomes the workload. socat is the workload's child from
 * then on and ends with the sandbox.
 */
function throughApi(command: string[], net: SandboxNetwork): string[] {
  const hex = net.apiPort.toString(16).toUpperCase().padStart(4, '0');
  const script = [
    `socat TCP-LISTEN:${net.apiPort},bind=127.0.0.1,reuseaddr,fork UNIX-CONNECT:${API_SOCKET_DIR}/${API_SOCKET_NAME} 2>/dev/null &`,
    'n=0',
    `until grep -q ':${hex} 00000000:0000 0A' /proc/net/tcp; do`,
    '  n=$((n + 1)); if [ "$n" -gt 1000 ]; then echo "mlp: the API forwarder (socat) did not start" >&2; exit 125; fi; sleep 0.01',
    'done',
    'exec "$@"',
  ].join('\n');
  return ['/bin/sh', '-c', script, 'mlp-job', ...command];
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
