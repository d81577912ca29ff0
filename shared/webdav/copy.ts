import { constants } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Invalid, LinkRefused, ResourceMissing } from '../core/errors.js';
import { durability, FOLDER_MODE, lstatIn, openFileIn, openIn, type Folder } from './confined.js';
import { READ_CHUNK, writeChunks } from './write-chunks.js';

const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * The path of a COPY or MOVE's Destination header (RFC 4918 §10.3): an absolute URL (its host is
 * the client's view of the gateway, so only the path counts) or an absolute path.
 */
export function destinationPath(header: string | undefined): string {
  if (!header) throw new Invalid('COPY and MOVE need a Destination header');
  let url: URL;
  try {
    url = new URL(header, 'http://destination.invalid');
  } catch {
    throw new Invalid('the Destination header is not a URL');
  }
  return url.pathname;
}

/**
 * Copies `name` inside `from` to `toName` inside `to`: a regular file, or a folder with (when
 * `deep`) everything in it. Links and other kinds of files are never followed nor copied; the
 * destination must not exist. Answers the bytes written. Every file written and every folder
 * filled here is fsynced before this answers; `to` itself is the caller's to fsync (once, however
 * many names it gains).
 */
export async function copyIn(from: Folder, name: string, to: Folder, toName: string, deep: boolean): Promise<number> {
  const s = await lstatIn(from, name);
  if (!s) throw new ResourceMissing(`${from.relOf(name)} not found`);
  if (s.isSymbolicLink()) throw new LinkRefused(`${from.relOf(name)} is a link; links are not followed`);
  if (s.isFile()) {
    const source = await openFileIn(from, name);
    if (!source) throw new ResourceMissing(`${from.relOf(name)} not found`);
    let target;
    try {
      target = await open(to.at(toName), FILE_FLAGS, 0o600);
    } catch (err) {
      await source.handle.close();
      throw err;
    }
    try {
      // Written through the handle kept open here, so that the same handle is fsynced after.
      await pipeline(source.handle.createReadStream({ highWaterMark: READ_CHUNK }), (chunks: AsyncIterable<Buffer>) => writeChunks(target, chunks));
      await durability.file(target);
    } finally {
      await target.close();
    }
    return source.stat.size;
  }
  if (!s.isDirectory()) return 0;
  await mkdir(to.at(toName), { mode: FOLDER_MODE });
  if (!deep) return 0;
  const src = await openIn(from, [name], false);
  if (!src) return 0;
  try {
    const dst = await openIn(to, [toName], false);
    if (!dst) throw new Error(`${to.relOf(toName)} vanished while being copied`);
    try {
      let bytes = 0;
      let filled = false;
      for (const entry of (await readdir(src.at())).sort()) {
        const e = await lstatIn(src, entry);
        if (!e?.isFile() && !e?.isDirectory()) continue;
        bytes += await copyIn(src, entry, dst, entry, true);
        filled = true;
      }
      if (filled) await durability.folder(dst);
      return bytes;
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}
