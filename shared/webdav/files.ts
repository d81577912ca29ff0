import { createWriteStream } from 'node:fs';
import { lstat, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { Forbidden } from '../errors.js';

export interface Entry {
  path: string;
  size: number;
  dir: boolean;
  mtime: Date;
}

/** Every file and folder under `root`, with paths relative to it, sorted; [] when it does not exist. */
export async function walk(root: string, depth = Infinity): Promise<Entry[]> {
  const out: Entry[] = [];
  const visit = async (dir: string, rel: string, level: number) => {
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      if (name.startsWith('.mlp-upload-')) continue; // uploads in flight are not files yet
      const full = path.join(dir, name);
      const s = await lstat(full);
      const p = rel ? `${rel}/${name}` : name;
      out.push({ path: p, size: s.isDirectory() ? 0 : s.size, dir: s.isDirectory(), mtime: s.mtime });
      if (s.isDirectory() && level + 1 < depth) await visit(full, p, level + 1);
    }
  };
  await visit(root, '', 0);
  return out;
}

export async function bytesUnder(root: string): Promise<number> {
  return (await walk(root)).reduce((sum, e) => sum + e.size, 0);
}

export async function statOrNull(file: string) {
  try {
    return await stat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * Streams `body` into a temporary file beside `file`, refusing (and removing it) as soon as it
 * grows past `limit` bytes, so an oversized upload never fills the disk. Returns its size.
 */
export async function receive(body: Readable, file: string, limit: number, tooBig: string): Promise<{ temp: string; size: number }> {
  const temp = path.join(path.dirname(file), `.mlp-upload-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`);
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) done(new Forbidden(tooBig));
      else done(null, chunk);
    },
  });
  try {
    await pipeline(body, counter, createWriteStream(temp, { flags: 'wx' }));
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return { temp, size };
}

export async function commit(temp: string, file: string): Promise<void> {
  await rename(temp, file);
}
