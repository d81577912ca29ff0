import { constants } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Invalid, LinkRefused, SourceChanged } from '../core/errors.js';
import { FOLDER_MODE, lstatIn, openFileIn, openIn, openUnder, type Folder } from '../webdav/confined.js';

/** Bounds what one model may hold, so a job cannot make the platform walk or copy without end. */
export const MAX_MODEL_FILES = 10_000;

export interface TreeSize {
  files: number;
  bytes: number;
}

const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * A job's output folder is written by someone else's code, and the platform reads it as itself:
 * every step is opened relative to the folder already held, never following a link
 * (webdav/confined.ts), so no link a job plants — nor one it swaps in while the platform reads
 * (rename exchange) — can lead the platform out of the job's folder. Anything but folders and
 * regular files is refused; sizes come from the opened file itself.
 */
async function openCkpt(root: string, segments: string[]): Promise<Folder | null> {
  try {
    return await openUnder(root, segments, false);
  } catch (err) {
    if (isLinkRefusal(err)) throw new Invalid(`${segments.slice(-2).join('/')}/ is a link; a model is made of a job's own files only`, { code: LinkRefused.CODE });
    throw err;
  }
}

/** openUnder and openIn refuse a link with LinkRefused (code LINK). Decided by type, never by message. */
const isLinkRefusal = (err: unknown): boolean => err instanceof LinkRefused;

/** Files and bytes under the job's ckpt/ (`segments` below MLP_ROOT); null when there is no such folder. */
export async function measureTree(root: string, segments: string[]): Promise<TreeSize | null> {
  const ckpt = await openCkpt(root, segments);
  if (!ckpt) return null;
  const total: TreeSize = { files: 0, bytes: 0 };
  try {
    await visit(ckpt, async (_dir, _name, _rel, size) => {
      total.files += 1;
      total.bytes += size;
    });
  } finally {
    await ckpt.close();
  }
  return total;
}

/**
 * Copies the regular files and folders of the job's ckpt/ (`segments` below MLP_ROOT) into the new
 * folder `dst` (the platform's own), reading each through the file opened without following links,
 * exactly the size that file had when opened. Answers what it copied; null when there is no ckpt/.
 */
export async function copyTree(root: string, segments: string[], dst: string): Promise<TreeSize | null> {
  const ckpt = await openCkpt(root, segments);
  if (!ckpt) return null;
  const total: TreeSize = { files: 0, bytes: 0 };
  try {
    await mkdir(dst, { recursive: true, mode: FOLDER_MODE });
    await visit(ckpt, async (dir, name, rel) => {
      const target = path.join(dst, rel);
      await mkdir(path.dirname(target), { recursive: true, mode: FOLDER_MODE });
      const source = await openFileIn(dir, name);
      if (!source) throw Object.assign(new Error(`ckpt/${rel} went away while it was copied`), { code: 'ENOENT' });
      let written = 0;
      try {
        const out = await open(target, NEW_FILE, 0o600);
        // Exactly the bytes the file held when opened (fstat), whatever its path has become since.
        const input = source.handle.createReadStream({ start: 0, end: Math.max(0, source.stat.size - 1), autoClose: false });
        input.on('data', (chunk: string | Buffer) => {
          written += chunk.length;
        });
        if (source.stat.size > 0) await pipeline(input, out.createWriteStream());
        else await out.close();
      } finally {
        await source.handle.close();
      }
      if (written !== source.stat.size) throw new SourceChanged(`ckpt/${rel} changed while it was copied (${source.stat.size} bytes when opened, ${written} read)`);
      total.files += 1;
      total.bytes += source.stat.size;
    });
  } finally {
    await ckpt.close();
  }
  return total;
}

/** Calls `onFile` for each regular file under `folder` (sorted), with its size from lstat in its held folder. */
async function visit(folder: Folder, onFile: (dir: Folder, name: string, rel: string, size: number) => Promise<void>, count = { files: 0 }): Promise<void> {
  for (const name of (await readdir(folder.at())).sort()) {
    const rel = folder.relOf(name);
    const s = await lstatIn(folder, name);
    if (!s) continue; // gone since listed
    if (s.isDirectory()) {
      const sub = await openIn(folder, [name], false).catch((err: unknown) => {
        // Swapped for a link since the lstat: refused like any link.
        if (isLinkRefusal(err)) throw new Invalid(`ckpt/${rel} is a link; a model is made of regular files only`, { code: LinkRefused.CODE });
        throw err;
      });
      if (!sub) continue;
      try {
        await visit(sub, onFile, count);
      } finally {
        await sub.close();
      }
    } else if (s.isFile()) {
      count.files += 1;
      if (count.files > MAX_MODEL_FILES) throw new Invalid(`ckpt/ holds more than ${MAX_MODEL_FILES} files`);
      await onFile(folder, name, rel, s.size);
    } else throw new Invalid(`ckpt/${rel} is ${s.isSymbolicLink() ? 'a link' : 'not a regular file'}; a model is made of regular files only`);
  }
}
