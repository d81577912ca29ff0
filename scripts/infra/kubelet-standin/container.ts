// The test kubelet stand-in's "container runtime": one pod container as a local process group
// inside bubblewrap. It is a stand-in for containerd/runc, which cannot run here: the "image" is
// the host's system folders read-only plus folders bound where the image would have files.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, openSync, closeSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { ETC as SANDBOX_ETC } from '../../../shared/orchestrator/sandbox-bwrap.js';
import { groupMembers } from '../../../shared/orchestrator/local-process.js';

/** A folder of the host bound into the container. */
export interface Mount {
  /** Host folder or file. */
  host: string;
  /** Absolute path in the container. */
  at: string;
  readOnly: boolean;
  /** An empty folder of the container's own (host unused), to hold other mounts; read-only once they are in. */
  tmpfs?: boolean;
}

/** Everything needed to start the container, resolved from the pod spec (see plan.ts). */
export interface ContainerPlan {
  argv: string[];
  env: Record<string, string>;
  workingDir?: string;
  mounts: Mount[];
  hostname: string;
  uid: number;
  gid: number;
}

/** Read-only system files of the host the container sees as its image's /etc: a sandbox's, and the users. */
const ETC = [...SANDBOX_ETC, 'passwd', 'group'];

const depth = (p: string) => p.split('/').filter(Boolean).length;

/**
 * bwrap's arguments. bwrap builds the root on a tmpfs of its own, so mount points (and a
 * missing workingDir) are made there, never on the host. Host network: no --unshare-net.
 */
export function bwrapArgs(plan: ContainerPlan): string[] {
  const args = [
    '--unshare-user',
    '--uid',
    String(plan.uid),
    '--gid',
    String(plan.gid),
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--hostname',
    plan.hostname.slice(0, 63),
    // If the stand-in dies (even by SIGKILL), or bwrap does, everything in the container dies too.
    '--die-with-parent',
  ];
  args.push('--ro-bind', '/usr', '/usr');
  // /bin, /lib… are links into /usr on merged-/usr systems, real folders on older ones.
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const p = `/${name}`;
    if (!existsSync(p)) continue;
    const st = lstatSync(p);
    if (st.isSymbolicLink()) args.push('--symlink', readlinkSync(p), p);
    else if (st.isDirectory()) args.push('--ro-bind', p, p);
  }
  for (const name of ETC) if (existsSync(`/etc/${name}`)) args.push('--ro-bind', `/etc/${name}`, `/etc/${name}`);
  args.push('--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--dir', '/root');
  // Outer before inner: an image folder may hold a volume's mount point.
  for (const m of [...plan.mounts].sort((a, b) => depth(a.at) - depth(b.at))) {
    if (m.tmpfs) args.push('--perms', '0755', '--tmpfs', m.at);
    else args.push(m.readOnly ? '--ro-bind' : '--bind', m.host, m.at);
  }
  for (const m of plan.mounts) if (m.tmpfs && m.readOnly) args.push('--remount-ro', m.at);
  const wd = plan.workingDir ?? '/';
  if (!plan.mounts.some((m) => wd === m.at || wd.startsWith(`${m.at}/`))) args.push('--dir', wd);
  // Exactly the container's environment: a test runner may add NODE_OPTIONS (preloads outside
  // the container's view) to every child it spawns, bwrap included.
  args.push('--clearenv');
  for (const [k, v] of Object.entries(plan.env)) args.push('--setenv', k, v);
  args.push('--chdir', wd, '--', ...plan.argv);
  return args;
}

/** A started container: its bwrap process leads a process group of its own. */
export interface Started {
  child: ChildProcess;
  pgid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start the container with its stdout and stderr appended to `logFile`. */
export function startContainer(bwrap: string, plan: ContainerPlan, logFile: string): Started {
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // bwrap sets the container's environment itself (--clearenv, --setenv) and searches its PATH.
    child = spawn(bwrap, bwrapArgs(plan), { detached: true, stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  } finally {
    closeSync(fd);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (!child.pid) throw new Error(`could not start ${bwrap}`);
  return { child, pgid: child.pid, exited };
}

const comm = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

/**
 * A graceful stop: the signal goes to the container's own processes, not to bwrap or its
 * pid-1 reaper (their death would SIGKILL everything at once); bwrap exits when they have.
 */
export function signalContainer(pgid: number, signal: NodeJS.Signals): void {
  const inside = groupMembers(pgid).filter((pid) => pid !== pgid && comm(pid) !== 'bwrap');
  for (const pid of inside) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/** SIGKILL the whole process group (bwrap included: its pid namespace dies with it). */
export function killContainer(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** The host path of a pod's log for one run of its container (the kubelet's /var/log/pods layout). */
export function logPath(stateDir: string, pod: { namespace: string; name: string; uid: string }, container: string, run: number): string {
  return path.join(stateDir, 'pods', `${pod.namespace}_${pod.name}_${pod.uid}`, container, `${run}.log`);
}
