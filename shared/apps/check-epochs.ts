import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_PATTERN } from '../core/validation.js';
import { Unavailable } from '../core/errors.js';

/** How long the Nginx app gateway keeps a check's 200 (X-Accel-Expires; never past the token's expiry). */
export const CHECK_KEEP_SECONDS = 5;
const USER = new RegExp(DEFAULT_PATTERN);

/**
 * Each user's check epoch: a file the Nginx app gateway reads on every request and puts in the key
 * under which it keeps the app check's answer (nginx/mlp-app-check.js). Whatever can make a kept
 * answer wrong — a token revoked, a user deactivated, an app deleted or failed — writes a new epoch
 * before it answers, so no request that starts afterwards finds the old answer: revocation still
 * takes effect at once. Files are read with open(), which NFS revalidates (close-to-open), and
 * replaced by rename, so a reader sees the old epoch or the new one, never a part.
 */
export function checkEpochsDir(root: string): string {
  return path.join(root, 'gateway', 'epochs');
}

/**
 * A new epoch for the user (random: concurrent writers need no read-modify-write). `what` says
 * what was done already, for the 503 when the epoch cannot be written: the change stands, but the
 * gateway may act on its kept answers for up to CHECK_KEEP_SECONDS.
 */
export async function bumpCheckEpoch(root: string, user: string, what: string): Promise<void> {
  if (!USER.test(user)) throw new Error(`not a user name for a check epoch: ${JSON.stringify(user.slice(0, 80))}`);
  try {
    await writeEpoch(root, user);
  } catch (err) {
    throw new Unavailable(`${what}, but the app gateway could not be told (${(err as Error).message}); it may go on serving for up to ${CHECK_KEEP_SECONDS} s`);
  }
}

async function writeEpoch(root: string, user: string): Promise<void> {
  const dir = checkEpochsDir(root);
  // The gateway reads as another uid: the folders made here and the file are readable whatever the umask.
  const made = await mkdir(dir, { recursive: true });
  if (made) for (let d = dir; d.length >= made.length; d = path.dirname(d)) await chmod(d, 0o755);
  const file = path.join(dir, user);
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o644);
  try {
    await handle.chmod(0o644);
    await handle.writeFile(randomBytes(12).toString('base64url'));
    // Closed (and so, on NFS, flushed to the server) before the rename makes it visible.
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
}
