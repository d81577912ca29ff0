import { constants } from 'node:fs';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ParentMissing } from '../core/errors.js';
import { durability, lstatIn, openUnder, type Folder } from './confined.js';
import { writeChunks } from './write-chunks.js';

/**
 * Where uploads are received before they are committed: MLP_ROOT/tmp/webdav, beside the datasets
 * and homes (shared/storage/paths.ts) — outside every folder a client lists or a job sees, so a temporary file is
 * never counted, listed or downloadable, and no client-chosen name can pass for one; and on the
 * same volume as the datasets and homes, so that a commit is one rename.
 */
const TEMP = ['tmp', 'webdav'];
/** A temporary file untouched this long belongs to an upload that died with its process. */
const ORPHAN_MS = 60 * 60 * 1000;
const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface Received {
  folder: Folder;
  name: string;
  size: number;
}

let lastSweep = 0;

// An upload is made durable (201/204 only once the bytes are on disk) by fsync of the file before
// it is committed, and of the folder it is committed to once it is there; folders the upload makes
// are fsynced as they are made (openIn).
export { durability };

/**
 * Streams `body` into a new temporary file, calling `charge` with each chunk's size before it is
 * stored (it throws to refuse, and then nothing is kept). The caller commits or discards it.
 */
export async function receive(storageRoot: string, body: Readable, charge: (bytes: number) => void): Promise<Received> {
  const folder = await openUnder(storageRoot, TEMP, true);
  if (!folder) throw new Error(`could not make ${TEMP.join('/')} under ${storageRoot}`);
  const name = `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      try {
        charge(chunk.length);
      } catch (err) {
        done(err as Error);
        return;
      }
      size += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await sweep(folder);
    const file = await open(folder.at(name), FILE_FLAGS, 0o600);
    try {
      // Written through the handle kept open here, so that the same handle is fsynced after.
      await pipeline(body, counter, (chunks: AsyncIterable<Buffer>) => writeChunks(file, chunks));
      // The bytes are on disk before the upload can be committed (and answered).
      await durability.file(file);
    } finally {
      await file.close();
    }
  } catch (err) {
    await discard({ folder, name, size });
    throw err;
  }
  return { folder, name, size };
}

/**
 * Puts the received file in place as `name` inside `parent` (replacing a file there, never
 * following a link), then fsyncs `parent` so that the name (new, or now naming the new bytes) is
 * on disk too before the caller answers. `placed` is called as soon as the name holds the bytes.
 */
export async function commit(received: Received, parent: Folder, name: string, placed: () => void = () => undefined): Promise<void> {
  try {
    await rename(received.folder.at(received.name), parent.at(name));
  } catch (err) {
    await discard(received);
    // The folder was removed meanwhile (a DELETE that restarts the upload).
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ParentMissing(`${parent.relOf(name)}: its folder was removed during the upload; the upload was not kept`);
    throw err;
  }
  // In place: the caller stops counting it as bytes being received (it is stored bytes now).
  placed();
  await received.folder.close();
  await durability.folder(parent);
}

export async function discard(received: Received): Promise<void> {
  try {
    await unlink(received.folder.at(received.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    await received.folder.close();
  }
}

/** Removes temporary files of uploads that died with their process (at most once an hour). */
async function sweep(folder: Folder): Promise<void> {
  if (Date.now() - lastSweep < ORPHAN_MS) return;
  lastSweep = Date.now();
  for (const name of await readdir(folder.at())) {
    const s = await lstatIn(folder, name);
    if (s && Date.now() - s.mtimeMs > ORPHAN_MS)
      await unlink(folder.at(name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
  }
}
