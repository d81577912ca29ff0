import { mkdir, rename } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { notFound } from '../../shared/datasets/lifecycle.js';
import type { Deps } from '../../shared/deps.js';
import { Conflict, Forbidden, Invalid, MalformedBody, NotAllowedHere, ParentMissing, PreconditionFailed, ResourceMissing, UnsupportedBody } from '../../shared/errors.js';
import { datasetId, datasetsCollection, type DatasetDoc } from '../../shared/repos/datasets.js';
import type { StreamHandler, StreamInput } from '../../shared/route.js';
import { bytesIn, durability, FOLDER_MODE, lstatIn, openFileIn, openIn, openUnder, removeIn, statOf, walk, type Folder } from '../../shared/webdav/confined.js';
import { copyIn, destinationPath } from '../../shared/webdav/copy.js';
import { commit, discard, receive, type Received } from '../../shared/webdav/files.js';
import { MAX_BODY, parsePropertyUpdate, parsePropfind, PropStore, sweepDatasets, type DeadProp } from '../../shared/webdav/deadprops.js';
import { multistatus, proppatchStatus } from '../../shared/webdav/propfind.js';
import { parseRange } from '../../shared/webdav/range.js';
import { encodedRestOf, resolveTarget, type Target } from '../../shared/webdav/target.js';

const ALLOW = 'OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, COPY, MOVE';

// Every file operation goes through folders opened without following links (shared/webdav/confined.ts):
// a job may have planted links in its home or datasets, and none of them leads out.

// Commits to one folder are serialized in this process, so two uploads cannot together pass the
// size or the home quota; the route's maxScale of 1 makes this process the only one.
const commitLocks = new Map<string, Promise<unknown>>();
function serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
  const run = (commitLocks.get(key) ?? Promise.resolve()).then(work, work);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  commitLocks.set(key, settled);
  void settled.then(() => {
    if (commitLocks.get(key) === settled) commitLocks.delete(key);
  });
  return run;
}

// Bytes being received per folder, so that uploads streaming at once cannot together hold more
// than the folder's room in temporary files either (the commit checks again, exactly).
const receiving = new Map<string, number>();

export const handle: StreamHandler = async (input, deps) => {
  // Names are decoded here, once and segment by segment, from the path as it was sent.
  const user = input.params.user ?? '';
  const target = resolveTarget(user, encodedRestOf(input.req.url ?? '', user));
  const dataset = target.home ? undefined : await datasetOf(target, deps);
  switch (input.method) {
    case 'OPTIONS':
      return send(input, 200, '', { allow: ALLOW, dav: '1' });
    case 'PUT':
      return put(input, target, dataset, deps);
    case 'GET':
    case 'HEAD':
      return get(input, target, dataset, deps);
    case 'DELETE':
      return remove(input, target, dataset, deps);
    case 'MKCOL':
      return mkcol(input, target, dataset, deps);
    case 'PROPFIND':
      return propfind(input, target, dataset, deps);
    case 'PROPPATCH':
      return proppatch(input, target, dataset, deps);
    case 'COPY':
    case 'MOVE':
      return copyOrMove(input, target, dataset, deps);
    default:
      throw new Invalid(`method ${input.method} is not allowed on /data; use ${ALLOW}`);
  }
};

async function datasetOf(target: Target, deps: Deps): Promise<DatasetDoc> {
  const doc = await datasetsCollection(deps.store).get(datasetId(target.user, target.name));
  return doc ?? notFound(target.name);
}

function writable(target: Target, dataset: DatasetDoc | undefined, what = 'files'): void {
  if (dataset && dataset.state !== 'creating') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}; ${what} can be written only while it is creating`);
  if (!target.rel && what === 'files') throw new Invalid('name a file inside the dataset or home');
}

/** The dead properties (PROPPATCH) of the home or dataset of `target` (shared/webdav/deadprops.ts). */
function propsOf(target: Target, dataset: DatasetDoc | undefined, deps: Deps): PropStore {
  return dataset ? PropStore.dataset(deps.config.root, target.user, dataset.uid) : PropStore.home(deps.config.root, target.user);
}

/** Runs `work` with `folder` open and closes it after. */
async function using<T>(folder: Folder, work: (f: Folder) => Promise<T>): Promise<T> {
  try {
    return await work(folder);
  } finally {
    await folder.close();
  }
}

/** The dataset's or home's folder (refused if it or a folder above it is a link); null when missing and not to be made. */
function openRoot(target: Target, deps: Deps, create: boolean): Promise<Folder | null> {
  return openUnder(deps.config.root, target.segments, create);
}

// RFC 4918's own outcomes (404, 409, …) answer their statuses on /data; the platform's rules stay 403.
const missing = (target: Target) => new ResourceMissing(`${target.rel} not found in ${target.name}`);
const linkRefused = (rel: string) => new Forbidden(`${rel} is a link; links are not followed`);

async function put(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  writable(target, dataset);
  if (target.slash) throw new Invalid('PUT needs a file path, not a folder');
  const cap = dataset ? dataset.size : deps.config.homeQuota;
  // The bytes stored for a dataset may never exceed its size, nor those of a home its quota.
  const tooBig = dataset ? `upload would exceed dataset ${dataset.name}'s size of ${dataset.size} bytes` : `upload would exceed your home quota of ${cap} bytes`;
  const name = target.parts[target.parts.length - 1] ?? '';
  const root = await openRoot(target, deps, true);
  if (!root) throw new Error(`could not make the folder of ${target.name}`);
  await using(root, async () => {
    const parent = await openIn(root, target.parts.slice(0, -1), true);
    if (!parent) throw new Error(`could not make the folder of ${target.rel}`);
    await using(parent, async () => {
      const room = async () => {
        const existing = await lstatIn(parent, name);
        if (existing?.isSymbolicLink()) throw linkRefused(target.rel);
        if (existing && !existing.isFile()) throw new Conflict(`${target.rel} is ${existing.isDirectory() ? 'a folder' : 'not a regular file'}`);
        return { existed: Boolean(existing), room: cap - (await bytesIn(root)) + (existing?.size ?? 0) };
      };
      const before = await room();
      const declared = Number(input.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > before.room) throw new Forbidden(tooBig);
      const key = target.segments.join('/');
      let charged = 0;
      const charge = (bytes: number) => {
        charged += bytes;
        receiving.set(key, (receiving.get(key) ?? 0) + bytes);
        if ((receiving.get(key) ?? 0) > before.room) throw new Forbidden(tooBig);
      };
      let existed = before.existed;
      const release = () => {
        const left = (receiving.get(key) ?? 0) - charged;
        if (left > 0) receiving.set(key, left);
        else receiving.delete(key);
        charged = 0;
      };
      try {
        const received: Received = await receive(deps.config.root, input.req, charge);
        await serialized(key, async () => {
          try {
            // Checked again at commit: another upload may have landed, or the dataset moved on, meanwhile.
            const now = dataset ? await datasetsCollection(deps.store).get(dataset._id) : undefined;
            if (dataset && now?.state !== 'creating') throw new Conflict(`dataset ${dataset.name} is ${now?.state ?? 'gone'}; the upload was not kept`);
            const at = await room();
            if (received.size > at.room) throw new Forbidden(tooBig);
            existed = at.existed;
          } catch (err) {
            await discard(received);
            throw err;
          }
          // Released as the file lands: from then on the folder's own size counts it, and it must
          // not be counted twice while the folder is fsynced.
          await commit(received, parent, name, release);
          // A new file starts without dead properties (a job may have removed the one that had them).
          if (!existed) await propsOf(target, dataset, deps).drop(target.parts);
        });
        deps.log.debug('stored', { folder: key, file: target.rel, bytes: received.size });
      } finally {
        release();
      }
      send(input, existed ? 204 : 201, '');
    });
  });
}

async function get(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  const listing = async (folder: Folder | null) => {
    // The listing works while creating too, so a client can resume an upload.
    if (dataset && dataset.state !== 'creating' && dataset.state !== 'ready') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}`);
    const files = folder ? (await walk(folder)).filter((e) => !e.dir).map((e) => ({ path: e.path, size: e.size })) : [];
    send(input, 200, JSON.stringify(files), { 'content-type': 'application/json' });
  };
  const root = await openRoot(target, deps, false);
  if (!target.rel) return root ? using(root, listing) : listing(null);
  if (!root) throw missing(target);
  await using(root, async () => {
    const parent = await openIn(root, target.parts.slice(0, -1), false);
    if (!parent) throw missing(target);
    await using(parent, async () => {
      const name = target.parts[target.parts.length - 1] ?? '';
      const s = await lstatIn(parent, name);
      if (s?.isSymbolicLink()) throw linkRefused(target.rel);
      if (s?.isDirectory()) {
        const folder = await openIn(parent, [name], false);
        if (!folder) throw missing(target);
        return using(folder, listing);
      }
      if (!s) throw missing(target);
      if (target.slash) throw new Conflict(`${target.rel} is not a folder`);
      if (dataset && dataset.state !== 'ready') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}; files can be downloaded once it is ready`);
      const file = await openFileIn(parent, name);
      if (!file) throw missing(target);
      await download(input, file);
    });
  });
}

async function download(input: StreamInput, file: NonNullable<Awaited<ReturnType<typeof openFileIn>>>): Promise<void> {
  const { handle, stat } = file;
  let streaming = false;
  try {
    const range = parseRange(input.headers.range, stat.size);
    const start = range?.start ?? 0;
    const end = range?.end ?? stat.size - 1;
    input.res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': stat.size === 0 ? 0 : end - start + 1,
      'accept-ranges': 'bytes',
      'last-modified': stat.mtime.toUTCString(),
      ...(range ? { 'content-range': `bytes ${start}-${end}/${stat.size}` } : {}),
    });
    if (input.method === 'HEAD' || stat.size === 0) {
      input.res.end();
      return;
    }
    // The handle opened without following links is what is sent; the stream closes it.
    streaming = true;
    await pipeline(handle.createReadStream({ start, end }), input.res);
  } finally {
    if (!streaming) await handle.close();
  }
}

async function remove(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  if (dataset && dataset.state !== 'creating') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}; uploads can be discarded only while it is creating`);
  if (!target.rel && target.home) throw new Invalid('the home itself cannot be deleted; delete files in it');
  if (!target.rel) {
    // DELETE /data/{user}/{dataset} discards everything uploaded so far (restart an upload).
    const above = await openUnder(deps.config.root, target.segments.slice(0, -1), false);
    if (above) {
      await using(above, async () => {
        if ((await lstatIn(above, target.name))?.isSymbolicLink()) throw linkRefused(`dataset ${target.name}'s folder`);
        await removeIn(above, target.name);
      });
    }
    await propsOf(target, dataset, deps).drop([]);
    return send(input, 204, '');
  }
  const root = await openRoot(target, deps, false);
  if (!root) throw missing(target);
  await using(root, async () => {
    const parent = await openIn(root, target.parts.slice(0, -1), false);
    if (!parent) throw missing(target);
    await using(parent, async () => {
      const name = target.parts[target.parts.length - 1] ?? '';
      if (!(await lstatIn(parent, name))) throw missing(target);
      // A link itself may go (its target stays); a folder goes with what is in it, links not followed.
      await removeIn(parent, name);
      await propsOf(target, dataset, deps).drop(target.parts);
    });
  });
  send(input, 204, '');
}

async function mkcol(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  writable(target, dataset);
  // RFC 4918 §9.3: MKCOL makes one folder, from no body (a body's meaning is not defined here: 415).
  if (hasBody(input)) throw new UnsupportedBody('MKCOL takes no request body');
  const root = await openRoot(target, deps, true);
  if (!root) throw new Error(`could not make the folder of ${target.name}`);
  await using(root, async () => {
    // RFC 4918 §9.3.1: the folders above must exist (409 otherwise; clients then make them first).
    const above = target.parts.slice(0, -1);
    const parent = await openIn(root, above, false);
    if (!parent) throw new ParentMissing(`the folder above ${target.rel} does not exist; make it first`);
    await using(parent, async () => {
      const name = target.parts[target.parts.length - 1] ?? '';
      const s = await lstatIn(parent, name);
      if (s?.isSymbolicLink()) throw linkRefused(target.rel);
      if (s) throw new NotAllowedHere(`${target.rel} already exists`);
      try {
        await mkdir(parent.at(name), { mode: FOLDER_MODE });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new NotAllowedHere(`${target.rel} already exists`);
        throw err;
      }
      await durability.folder(parent);
      await propsOf(target, dataset, deps).drop(target.parts);
    });
  });
  send(input, 201, '');
}

async function propfind(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  const depth = input.headers.depth ?? '1';
  if (depth !== '0' && depth !== '1') throw new Invalid('PROPFIND Depth must be 0 or 1');
  const want = parsePropfind(await readBody(input, 'PROPFIND'));
  const href = `/data/${target.user}/${target.name}${target.rel ? `/${target.rel}` : ''}`;
  const props = propsOf(target, dataset, deps);
  const answer = async (self: { dir: boolean; size: number; mtime: Date }, folder: Folder | null) => {
    const children = depth === '1' && folder ? await walk(folder, 1) : [];
    // Dead properties are read only when asked for (allprop, propname, or a name outside DAV:).
    const dead = want.kind !== 'named' || want.props.some((p) => p.ns !== 'DAV:');
    const own = dead ? await props.read(target.parts) : [];
    const theirs = dead && children.length ? await props.readChildren(target.parts) : new Map<string, DeadProp[]>();
    const body = multistatus(
      href,
      { ...self, dead: own },
      children.map((c) => ({ ...c, dead: theirs.get(c.path) ?? [] })),
      want,
    );
    send(input, 207, body, { 'content-type': 'application/xml; charset=utf-8' });
  };
  const root = await openRoot(target, deps, false);
  if (!target.rel && !root) return answer({ dir: true, size: 0, mtime: new Date(0) }, null);
  if (!root) throw missing(target);
  await using(root, async () => {
    if (!target.rel) return answer({ dir: true, size: 0, mtime: (await statOf(root)).mtime }, root);
    const parent = await openIn(root, target.parts.slice(0, -1), false);
    if (!parent) throw missing(target);
    await using(parent, async () => {
      const name = target.parts[target.parts.length - 1] ?? '';
      const s = await lstatIn(parent, name);
      if (!s) throw missing(target);
      if (s.isSymbolicLink()) throw linkRefused(target.rel);
      if (!s.isDirectory()) return answer({ dir: false, size: s.size, mtime: s.mtime }, null);
      const folder = await openIn(parent, [name], false);
      if (!folder) throw missing(target);
      await using(folder, (f) => answer({ dir: true, size: 0, mtime: s.mtime }, f));
    });
  });
}

/**
 * PROPPATCH (RFC 4918 §9.2): sets and removes dead properties of an existing file or folder, all or
 * nothing, within the bounds of shared/webdav/deadprops.ts, under the rules of PUT: the home any
 * time, a dataset only while it is creating; a link is refused. Properties in DAV: are the
 * server's and cannot be changed. A malformed body is 400, a missing resource 404, the platform's
 * refusals 403, each with {msg}; a refused PROPPATCH changes nothing.
 */
async function proppatch(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  writable(target, dataset, 'properties');
  const updates = parsePropertyUpdate(await readBody(input, 'PROPPATCH'));
  const root = await openRoot(target, deps, !target.rel);
  if (!root) throw missing(target);
  await using(root, async () => {
    if (target.rel) {
      const parent = await openIn(root, target.parts.slice(0, -1), false);
      if (!parent) throw missing(target);
      await using(parent, async () => {
        const s = await lstatIn(parent, target.parts[target.parts.length - 1] ?? '');
        if (!s) throw missing(target);
        if (s.isSymbolicLink()) throw linkRefused(target.rel);
        if (!s.isFile() && !s.isDirectory()) throw new Conflict(`${target.rel} is not a regular file or folder`);
      });
    }
    await serialized(target.segments.join('/'), async () => {
      const props = propsOf(target, dataset, deps);
      if (dataset && !(await props.exists())) {
        // A dataset's first properties: forget those of this user's datasets deleted since.
        const alive = await datasetsCollection(deps.store).find({ user: target.user });
        await sweepDatasets(
          deps.config.root,
          target.user,
          alive.map((d) => d.uid),
        );
      }
      await props.update(target.parts, updates, root);
    });
  });
  const href = `/data/${target.user}/${target.name}${target.rel ? `/${target.rel}` : ''}${target.slash ? '/' : ''}`;
  send(input, 207, proppatchStatus(href, updates), { 'content-type': 'application/xml; charset=utf-8' });
}

/** A small request body (PROPFIND, PROPPATCH) as text, at most MAX_BODY bytes (403 beyond). */
async function readBody(input: StreamInput, method: string): Promise<string> {
  const tooBig = () => new Forbidden(`a ${method} body is at most ${MAX_BODY} bytes`);
  const declared = Number(input.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > MAX_BODY) throw tooBig();
  if (!hasBody(input)) return '';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw tooBig();
    chunks.push(chunk);
  }
  const text = new TextDecoder('utf-8', { fatal: true });
  try {
    return text.decode(Buffer.concat(chunks));
  } catch {
    throw new MalformedBody(`the ${method} body is not UTF-8`);
  }
}

function hasBody(input: StreamInput): boolean {
  const length = input.headers['content-length'];
  return (length !== undefined && length !== '0') || input.headers['transfer-encoding'] !== undefined;
}

/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9) within one dataset or home, under the rules of PUT: only
 * while a dataset is creating (the home any time), never past its size or the home quota, never
 * through a link. Overwrite: F refuses an existing destination; T (the default) replaces it.
 */
async function copyOrMove(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  const move = input.method === 'MOVE';
  writable(target, dataset);
  const destPath = destinationPath(input.headers.destination);
  const prefix = `/data/${target.user}/`;
  if (!destPath.startsWith(prefix)) throw new Forbidden(`${input.method} stays within /data/${target.user}/${target.name}/; the Destination is elsewhere`);
  // Still percent-encoded: resolveTarget decodes each segment once.
  const dest = resolveTarget(target.user, destPath.slice(prefix.length));
  if (dest.name !== target.name) throw new Forbidden(`${input.method} stays within one dataset or home (${target.name}); the Destination is in ${dest.name}`);
  if (!dest.rel) throw new Invalid('name a file or folder inside the dataset or home as the Destination');
  if (dest.rel === target.rel || dest.rel.startsWith(`${target.rel}/`)) throw new Forbidden(`${input.method} cannot put ${target.rel} inside itself`);
  const depth = input.headers.depth ?? 'infinity';
  if (depth !== 'infinity' && depth !== '0') throw new Invalid(`${input.method} Depth must be 0 or infinity`);
  if (move && depth !== 'infinity') throw new Invalid('MOVE of a folder moves all of it (Depth: infinity)');
  const overwrite = (input.headers.overwrite ?? 'T').toUpperCase();
  if (overwrite !== 'T' && overwrite !== 'F') throw new Invalid('Overwrite must be T or F');
  const cap = dataset ? dataset.size : deps.config.homeQuota;
  const tooBig = dataset ? `copy would exceed dataset ${dataset.name}'s size of ${dataset.size} bytes` : `copy would exceed your home quota of ${cap} bytes`;

  const root = await openRoot(target, deps, false);
  if (!root) throw missing(target);
  const key = target.segments.join('/');
  await using(root, () =>
    serialized(key, async () => {
      const srcParent = await openIn(root, target.parts.slice(0, -1), false);
      if (!srcParent) throw missing(target);
      await using(srcParent, async () => {
        const srcName = target.parts[target.parts.length - 1] ?? '';
        const src = await lstatIn(srcParent, srcName);
        if (!src) throw missing(target);
        if (src.isSymbolicLink()) throw linkRefused(target.rel);
        const dstParent = await openIn(root, dest.parts.slice(0, -1), false);
        if (!dstParent) throw new ParentMissing(`the folder above ${dest.rel} does not exist`);
        await using(dstParent, async () => {
          const dstName = dest.parts[dest.parts.length - 1] ?? '';
          const existing = await lstatIn(dstParent, dstName);
          if (existing && overwrite === 'F') throw new PreconditionFailed(`${dest.rel} exists and Overwrite is F`);
          if (!move) {
            // What the copy adds, counted before anything is written.
            const adds = src.isDirectory() ? (depth === '0' ? 0 : await bytesOfFolder(srcParent, srcName)) : src.size;
            const replaced = !existing ? 0 : existing.isDirectory() ? await bytesOfFolder(dstParent, dstName) : existing.isFile() ? existing.size : 0;
            if ((await bytesIn(root)) - replaced + adds > cap) throw new Forbidden(tooBig);
          }
          if (existing) await removeIn(dstParent, dstName);
          const props = propsOf(target, dataset, deps);
          // Answered once the result is on disk: a copy's files and folders (copyIn), and each
          // folder that gained or lost a name here, once.
          if (move) {
            await rename(srcParent.at(srcName), dstParent.at(dstName));
            await durability.folder(dstParent);
            if (!sameFolder(target.parts, dest.parts)) await durability.folder(srcParent);
            await props.move(target.parts, dest.parts);
          } else {
            try {
              await copyIn(srcParent, srcName, dstParent, dstName, depth === 'infinity');
            } catch (err) {
              await removeIn(dstParent, dstName);
              throw err;
            }
            await durability.folder(dstParent);
            await props.copy(target.parts, dest.parts, depth === 'infinity');
          }
          send(input, existing ? 204 : 201, '');
        });
      });
    }),
  );
}

/** Whether two paths (segments) name entries of the same folder. */
function sameFolder(a: string[], b: string[]): boolean {
  return a.length === b.length && a.slice(0, -1).every((part, i) => part === b[i]);
}

async function bytesOfFolder(parent: Folder, name: string): Promise<number> {
  const folder = await openIn(parent, [name], false);
  return folder ? using(folder, bytesIn) : 0;
}

function send(input: StreamInput, status: number, body: string, headers: Record<string, string> = {}): void {
  input.res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  input.res.end(input.method === 'HEAD' ? undefined : body);
}
