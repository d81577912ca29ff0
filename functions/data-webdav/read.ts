import { pipeline } from 'node:stream/promises';
import type { Deps } from '../../shared/wiring/deps.js';
import { Conflict, Invalid } from '../../shared/core/errors.js';
import type { DatasetDoc } from '../../shared/records/datasets.js';
import type { StreamInput } from '../../shared/routes/route.js';
import { lstatIn, openFileIn, openIn, statOf, walk, type Folder } from '../../shared/webdav/confined.js';
import type { DeadProp } from '../../shared/webdav/deadprops.js';
import { parsePropfind } from '../../shared/webdav/deadprops-xml.js';
import { multistatus } from '../../shared/webdav/propfind.js';
import { parseRange } from '../../shared/webdav/range.js';
import type { Target } from '../../shared/webdav/target.js';
import { READ_CHUNK } from '../../shared/webdav/write-chunks.js';
import { readBody } from './body.js';
import { linkRefused, missing, openRoot, propsOf, send, using } from './common.js';

// The methods of /data that read: GET and HEAD (a file, or a folder's listing as JSON) and PROPFIND.

export async function get(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
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
    await pipeline(handle.createReadStream({ start, end, highWaterMark: READ_CHUNK }), input.res);
  } finally {
    if (!streaming) await handle.close();
  }
}

export async function propfind(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
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
