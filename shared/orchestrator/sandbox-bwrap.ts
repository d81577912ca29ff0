import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { WorkloadSandbox } from './port.js';

// The sandbox itself, as bubblewrap arguments (what it shows, hides and unshares: sandbox.ts says
// why): the filesystem view, the namespaces, the network with only the API, and the drop to the
// job's uid inside a user namespace the platform made (userns.ts).

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

/** Read-only system files a program needs (name resolution, TLS roots, the loader's cache, time zone). */
export const ETC = [
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
