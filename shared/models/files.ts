import { copyFile, lstat, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Invalid } from '../errors.js';

/** Bounds what one model may hold, so a job cannot make the platform walk or copy without end. */
export const MAX_MODEL_FILES = 10_000;

export interface TreeSize {
  files: number;
  bytes: number;
}

/**
 * Sizes a job's output folder without following links: a job is someone else's code and may
 * plant a link to files that are not its own, so anything but folders and regular files is refused.
 */
export async function measureTree(dir: string): Promise<TreeSize> {
  const total: TreeSize = { files: 0, bytes: 0 };
  await assertRealFolder(dir);
  await walk(dir, '', async (_rel, size) => {
    total.files += 1;
    total.bytes += size;
  });
  return total;
}

/** Copies regular files and folders from `src` into a new `dst`, refusing links; answers what it copied. */
export async function copyTree(src: string, dst: string): Promise<TreeSize> {
  const total: TreeSize = { files: 0, bytes: 0 };
  await assertRealFolder(src);
  await mkdir(dst, { recursive: true, mode: 0o700 });
  await walk(src, '', async (rel, size) => {
    const target = path.join(dst, rel);
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    await copyFile(path.join(src, rel), target);
    total.files += 1;
    total.bytes += size;
  });
  return total;
}

async function walk(root: string, rel: string, onFile: (rel: string, size: number) => Promise<void>, count = { files: 0 }): Promise<void> {
  const entries = await readdir(path.join(root, rel), { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const childRel = path.join(rel, entry.name);
    const s = await lstat(path.join(root, childRel));
    if (s.isDirectory()) await walk(root, childRel, onFile, count);
    else if (s.isFile()) {
      count.files += 1;
      if (count.files > MAX_MODEL_FILES) throw new Invalid(`ckpt/ holds more than ${MAX_MODEL_FILES} files`);
      await onFile(childRel, s.size);
    } else throw new Invalid(`ckpt/${childRel} is ${s.isSymbolicLink() ? 'a link' : 'not a regular file'}; a model is made of regular files only`);
  }
}

/**
 * `readdir` follows a link given as the folder itself, so the folder (and the one holding it,
 * which the job may also have replaced) must be real folders, not links to someone else's.
 */
async function assertRealFolder(dir: string): Promise<void> {
  for (const p of [path.dirname(dir), dir]) {
    const s = await lstat(p);
    if (s.isSymbolicLink()) throw new Invalid(`${path.basename(p)}/ is a link; a model is made of a job's own files only`);
    if (!s.isDirectory()) throw new Invalid(`${path.basename(p)} is not a folder`);
  }
}
