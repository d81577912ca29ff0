import { spawn } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { bwrapArgs, bwrapCommand } from './sandbox-bwrap.js';
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
 *
 * Here: whether the sandbox can be had (the probe) and how that is said; the bwrap arguments that
 * make it are sandbox-bwrap.ts's.
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
