import { mkdir } from 'node:fs/promises';
import type { Deps } from '../../shared/wiring/deps.js';
import { Conflict, Forbidden, Invalid, NotAllowedHere, ParentMissing, UnsupportedBody } from '../../shared/core/errors.js';
import { datasetsCollection, type DatasetDoc } from '../../shared/records/datasets.js';
import type { StreamInput } from '../../shared/routes/route.js';
import { bytesIn, durability, FOLDER_MODE, lstatIn, openIn, openUnder, removeIn } from '../../shared/webdav/confined.js';
import { sweepDatasets } from '../../shared/webdav/deadprops.js';
import { parsePropertyUpdate } from '../../shared/webdav/deadprops-xml.js';
import { commit, discard, receive, type Received } from '../../shared/webdav/files.js';
import { proppatchStatus } from '../../shared/webdav/propfind.js';
import type { Target } from '../../shared/webdav/target.js';
import { receiver, serialized } from './accounting.js';
import { hasBody, readBody } from './body.js';
import { linkRefused, missing, openRoot, propsOf, send, using, writable } from './common.js';

// The methods of /data that write in place: PUT, DELETE, MKCOL and PROPPATCH (COPY and MOVE: copy-move.ts).

export async function put(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
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
      // Bytes are counted as they arrive, against the room of all uploads to this folder (accounting.ts).
      const { charge, release } = receiver(key, before.room, tooBig);
      let existed = before.existed;
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

export async function remove(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
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

export async function mkcol(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
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

/**
 * PROPPATCH (RFC 4918 §9.2): sets and removes dead properties of an existing file or folder, all or
 * nothing, within the bounds of shared/webdav/deadprops.ts, under the rules of PUT: the home any
 * time, a dataset only while it is creating; a link is refused. Properties in DAV: are the
 * server's and cannot be changed. A malformed body is 400, a missing resource 404, the platform's
 * refusals 403, each with {msg}; a refused PROPPATCH changes nothing.
 */
export async function proppatch(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
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
