import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { Conflict, LinkRefused, ParentMissing } from '../core/errors.js';

// Paths under MLP_ROOT that users influence, in folders a job can write, must never lead out
// through a link (docs/security.md: tenants are hostile to each other). Checking with lstat and then
// using the path would leave a moment in which a job could swap a folder for a link, so every
// folder is *opened* (O_NOFOLLOW: a link is refused, not followed) and the next name is resolved
// inside the opened folder through /proc/self/fd/N/name — openat(2) by another name, which Node
// lacks. Whatever the path looks like by then, the kernel resolves the name in the folder held.
// Linux only, as the platform is (/proc is there in every container it runs in).

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
// O_NONBLOCK so that a FIFO planted by a job cannot hang the open; regular files read as usual.
const FILE_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
export const FOLDER_MODE = 0o700;

/** A folder held open; names are resolved inside it, never through the path that led to it. */
export class Folder {
  constructor(
    private readonly handle: FileHandle,
    /** Where it is, for messages: relative to the root the caller opened, '' for the root. */
    readonly rel: string,
  ) {}

  /** A path that reaches `name` inside this very folder (or the folder itself). */
  at(name = ''): string {
    return `/proc/self/fd/${this.handle.fd}${name ? `/${name}` : ''}`;
  }

  relOf(name: string): string {
    return this.rel ? `${this.rel}/${name}` : name;
  }

  /** The same open folder (one handle: close one of them), named otherwise in messages. */
  as(rel: string): Folder {
    return new Folder(this.handle, rel);
  }

  /** fsync(2) of the folder itself: the names made or replaced in it are on disk. */
  sync(): Promise<void> {
    return this.handle.sync();
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/**
 * How writes under /data are made durable before they are answered: fsync(2) of a file written,
 * and of each folder that gains (or loses) a name — once per folder and request. A property so
 * that tests can watch the calls.
 */
export const durability = {
  file: (handle: FileHandle): Promise<void> => handle.sync(),
  folder: (folder: Folder): Promise<void> => folder.sync(),
};

const linkRefused = (what: string) => new LinkRefused(`${what} is a link; links are not followed`);

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

const realRoots = new Map<string, string>();

/**
 * Opens `segments` below MLP_ROOT (e.g. ['datasets', user, '.home']), each a real folder, never a
 * link (MLP_ROOT itself is the operator's and may be one). Missing folders are made when `create`
 * is set, otherwise the answer is null. The folder answered has rel ''.
 */
export async function openUnder(storageRoot: string, segments: string[], create: boolean): Promise<Folder | null> {
  let real = realRoots.get(storageRoot);
  if (!real) {
    if (create) await mkdir(storageRoot, { recursive: true, mode: FOLDER_MODE });
    try {
      real = await realpath(storageRoot);
    } catch (err) {
      if (code(err) === 'ENOENT') return null;
      throw err;
    }
    realRoots.set(storageRoot, real);
  }
  const base = new Folder(await open(real, constants.O_RDONLY | constants.O_DIRECTORY), '');
  try {
    return (await openIn(base, segments, create))?.as('') ?? null;
  } finally {
    await base.close();
  }
}

/**
 * Opens the folder `parts` inside `from` (which stays open; [] opens it again). Missing folders are
 * made when `create` is set, otherwise the answer is null. A link or a file on the way is refused.
 * A folder made here is on disk before this answers: the folder it was made in is fsynced (the
 * folder made is fsynced by whoever puts a name in it).
 */
export async function openIn(from: Folder, parts: string[], create: boolean): Promise<Folder | null> {
  const name = (i: number) => from.relOf(parts.slice(0, i + 1).join('/'));
  // The folder itself again (its /proc path is a link by nature, so no O_NOFOLLOW here).
  let current = new Folder(await open(from.at(), constants.O_RDONLY | constants.O_DIRECTORY), from.rel);
  try {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] ?? '';
      let next: FileHandle | undefined;
      for (let attempt = 0; !next; attempt++) {
        try {
          next = await open(current.at(part), DIR_FLAGS);
        } catch (err) {
          if (code(err) === 'ENOENT' && create && attempt === 0) {
            await mkdir(current.at(part), { mode: FOLDER_MODE }).catch((e: unknown) => {
              if (code(e) !== 'EEXIST') throw e;
            });
            // Also when another request made it meanwhile: it may not have synced it yet.
            await durability.folder(current);
            continue;
          }
          if (code(err) === 'ENOENT') {
            await current.close();
            return null;
          }
          if (code(err) === 'ENOTDIR' || code(err) === 'ELOOP') {
            const s = await lstatIn(current, part);
            throw s?.isSymbolicLink() ? linkRefused(name(i)) : new ParentMissing(`${name(i)} is not a folder`);
          }
          throw err;
        }
      }
      await current.close();
      current = new Folder(next, name(i));
    }
    return current;
  } catch (err) {
    await current.close();
    throw err;
  }
}

/** The open folder's own stat. */
export function statOf(folder: Folder): Promise<Stats> {
  return stat(folder.at());
}

/** lstat of `name` inside `folder`, null when it does not exist. */
export async function lstatIn(folder: Folder, name: string): Promise<Stats | null> {
  try {
    return await lstat(folder.at(name));
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Opens the regular file `name` inside `folder` for reading; null when missing; a link or anything else is refused. */
export async function openFileIn(folder: Folder, name: string): Promise<{ handle: FileHandle; stat: Stats } | null> {
  let handle: FileHandle;
  try {
    handle = await open(folder.at(name), FILE_FLAGS);
  } catch (err) {
    if (code(err) === 'ENOENT') return null;
    if (code(err) === 'ELOOP') throw linkRefused(folder.relOf(name));
    throw err;
  }
  const stat = await handle.stat();
  if (!stat.isFile()) {
    await handle.close();
    throw new Conflict(`${folder.relOf(name)} is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}`);
  }
  return { handle, stat };
}

export interface Entry {
  path: string;
  size: number;
  dir: boolean;
  mtime: Date;
}

/**
 * Regular files and folders inside `folder`, paths relative to it, sorted, down to `depth` levels.
 * Links and other kinds of files are left out: neither their targets nor their sizes are shown.
 */
export async function walk(folder: Folder, depth = Infinity): Promise<Entry[]> {
  const out: Entry[] = [];
  const visit = async (dir: Folder, rel: string, level: number) => {
    for (const name of (await readdir(dir.at())).sort()) {
      const s = await lstatIn(dir, name);
      if (!s || !(s.isFile() || s.isDirectory())) continue;
      const p = rel ? `${rel}/${name}` : name;
      out.push({ path: p, size: s.isDirectory() ? 0 : s.size, dir: s.isDirectory(), mtime: s.mtime });
      if (!s.isDirectory() || level + 1 >= depth) continue;
      let sub: FileHandle;
      try {
        sub = await open(dir.at(name), DIR_FLAGS);
      } catch (err) {
        // Swapped for a link or removed since the lstat: not a folder of this tree any more.
        if (['ENOENT', 'ENOTDIR', 'ELOOP'].includes(code(err) ?? '')) continue;
        throw err;
      }
      const child = new Folder(sub, p);
      try {
        await visit(child, p, level + 1);
      } finally {
        await child.close();
      }
    }
  };
  await visit(folder, '', 0);
  return out;
}

/** Bytes of the regular files inside `folder`, at any depth. */
export async function bytesIn(folder: Folder): Promise<number> {
  return (await walk(folder)).reduce((sum, e) => sum + e.size, 0);
}

/** Removes `name` inside `folder`: a file or link itself, or a folder with everything in it, never following a link. */
export async function removeIn(folder: Folder, name: string): Promise<void> {
  const s = await lstatIn(folder, name);
  if (!s) return;
  if (!s.isDirectory()) return ignoreMissing(unlink(folder.at(name)));
  let sub: FileHandle;
  try {
    sub = await open(folder.at(name), DIR_FLAGS);
  } catch (err) {
    if (code(err) === 'ENOENT') return;
    // Swapped for a link since the lstat: the link itself goes.
    if (code(err) === 'ENOTDIR' || code(err) === 'ELOOP') return ignoreMissing(unlink(folder.at(name)));
    throw err;
  }
  const child = new Folder(sub, folder.relOf(name));
  try {
    for (const entry of await readdir(child.at())) await removeIn(child, entry);
  } finally {
    await child.close();
  }
  await ignoreMissing(rmdir(folder.at(name)));
}

async function ignoreMissing(p: Promise<void>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (code(err) !== 'ENOENT') throw err;
  }
}
