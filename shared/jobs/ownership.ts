import { chown, lchown, readdir } from 'node:fs/promises';
import { LinkRefused } from '../core/errors.js';
import { lstatIn, openIn, openUnder, statOf, type Folder } from '../webdav/confined.js';

/**
 * A job runs as its user's own host uid (orchestrator/userns.ts), so what it reads (its home and
 * datasets) and writes (its workspace) must be that uid's: the platform, which writes them as
 * root, hands each tree over before the job starts. Every step is taken in a folder held open,
 * never following a link (a job may have planted one); the files keep their modes (0600/0700),
 * so nobody else on the host gains anything. Answers how many entries changed owner.
 */
export async function giveTree(root: string, segments: string[], uid: number): Promise<number> {
  const top = await openUnder(root, segments, false);
  if (!top) return 0;
  let changed = 0;
  const visit = async (folder: Folder): Promise<void> => {
    for (const name of await readdir(folder.at())) {
      const s = await lstatIn(folder, name);
      if (!s) continue; // gone since listed
      if (s.uid !== uid || s.gid !== uid) {
        await lchown(folder.at(name), uid, uid);
        changed += 1;
      }
      if (!s.isDirectory()) continue;
      const sub = await openIn(folder, [name], false).catch((err: unknown) => {
        // Swapped for a link since the lstat: its owner was set above, and it is not followed.
        // openIn refuses a link, and nothing else, with a Forbidden (LinkRefused, code LINK); its
        // other outcomes are ParentMissing and file-system errors. Decided by type, never by message.
        if (err instanceof LinkRefused) return null;
        throw err;
      });
      if (!sub) continue;
      try {
        await visit(sub);
      } finally {
        await sub.close();
      }
    }
  };
  try {
    const s = await statOf(top);
    if (s.uid !== uid || s.gid !== uid) {
      await chown(top.at(), uid, uid); // the folder held: /proc/self/fd/N leads to it alone
      changed += 1;
    }
    await visit(top);
  } finally {
    await top.close();
  }
  return changed;
}
