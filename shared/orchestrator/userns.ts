import { spawn } from 'node:child_process';
import { closeSync, openSync, readlinkSync, writeFileSync } from 'node:fs';

/**
 * A user namespace for one sandbox, made by the platform (root) so that the job's uid inside maps
 * to an unprivileged uid of the host, never to the platform's own: bubblewrap, run by root, would
 * map the sandbox uid to root. The namespace maps
 *   - uid and gid 0 to the host's 0, for bubblewrap's set-up only (it builds the sandbox's
 *     filesystem as root of the namespace, then the command drops to the job's uid for good:
 *     sandbox.ts runs it under setpriv with no capabilities and no_new_privs), and
 *   - SANDBOX_UID to `hostUid`, the job's own uid on the host;
 * and allows no user namespace below it (user.max_user_namespaces = 0 inside, set by a process of
 * the namespace itself, which the job, without capabilities, cannot raise again). Answers an open
 * file descriptor of the namespace for bubblewrap's --userns; the caller closes it.
 */
export async function jobUserns(sandboxUid: number, hostUid: number): Promise<number> {
  if (!Number.isInteger(hostUid) || hostUid <= 0 || hostUid >= 2 ** 32 - 1) throw new TypeError(`not an unprivileged host uid: ${hostUid}`);
  // The holder waits until its maps are written; then, as root of its namespace (after exec), it
  // locks nested namespaces and says so.
  const lock = 'echo 0 > /proc/sys/user/max_user_namespaces && echo locked && exec sleep 600';
  const holder = spawn('unshare', ['--user', '--', 'sh', '-c', `read _ && exec sh -c '${lock}'`], { stdio: ['pipe', 'pipe', 'pipe'] });
  let said = '';
  holder.stdout.on('data', (d: Buffer) => (said += d.toString()));
  holder.stderr.on('data', (d: Buffer) => (said += d.toString()));
  const ended = new Promise<number | null>((resolve) => holder.once('exit', (code) => resolve(code)));
  const spawned = new Promise<void>((resolve, reject) => {
    holder.once('spawn', () => resolve());
    holder.once('error', reject);
  });
  try {
    await spawned;
    const pid = holder.pid as number;
    const own = readlinkSync('/proc/self/ns/user');
    for (let i = 0; ; i++) {
      let ns: string | undefined;
      try {
        ns = readlinkSync(`/proc/${pid}/ns/user`);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (ns && ns !== own) break;
      if (i > 2000) throw new Error(`unshare --user did not make a user namespace: ${said.trim() || 'no output'}`);
      await Promise.race([new Promise((r) => setTimeout(r, 2)), ended.then((code) => Promise.reject(new Error(`unshare --user ended (${code}): ${said.trim()}`)))]);
    }
    writeFileSync(`/proc/${pid}/uid_map`, `0 0 1\n${sandboxUid} ${hostUid} 1\n`);
    writeFileSync(`/proc/${pid}/gid_map`, `0 0 1\n${sandboxUid} ${hostUid} 1\n`);
    holder.stdin.end('\n');
    await Promise.race([
      new Promise<void>((resolve) => {
        const check = () => (said.includes('locked') ? resolve() : holder.stdout.once('data', check));
        check();
      }),
      ended.then((code) => Promise.reject(new Error(`the namespace holder ended (${code}) before it locked nested namespaces: ${said.trim()}`))),
    ]);
    return openSync(`/proc/${pid}/ns/user`, 'r');
  } finally {
    holder.kill('SIGKILL');
    await ended;
  }
}

export const closeUserns = (fd: number | undefined): void => {
  if (fd !== undefined) closeSync(fd);
};

/** The platform can make such namespaces: it runs as root (it writes other uids' maps). */
export const canMapUids = (): boolean => process.getuid?.() === 0;

/**
 * A user's host uid for their jobs and model servers: fixed per user, in [2^30, 2^30 + 2^29), far
 * from the uids of a system's people and of subordinate-id ranges. Two users may share one in rare
 * cases (a hash): their sandboxes still see nothing of each other (own filesystem view, pid and
 * network namespaces); the uid is the last wall, not the only one.
 */
export function userHostUid(user: string): number {
  let h = 0x811c9dc5; // FNV-1a, 32 bits
  for (const byte of Buffer.from(user, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return 2 ** 30 + (h % 2 ** 29);
}
