import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { notFound } from '../../shared/datasets/lifecycle.js';
import type { Deps } from '../../shared/deps.js';
import { Conflict, Forbidden, Invalid } from '../../shared/errors.js';
import { datasetId, datasetsCollection, type DatasetDoc } from '../../shared/repos/datasets.js';
import type { StreamHandler, StreamInput } from '../../shared/route.js';
import { bytesUnder, commit, receive, statOrNull, walk } from '../../shared/webdav/files.js';
import { multistatus } from '../../shared/webdav/propfind.js';
import { parseRange } from '../../shared/webdav/range.js';
import { resolveTarget, type Target } from '../../shared/webdav/target.js';

const ALLOW = 'OPTIONS, GET, HEAD, PUT, DELETE, MKCOL, PROPFIND';

// Commits to one folder are serialized in this process, so two uploads cannot together pass the
// size; the route's maxScale of 1 makes this process the only one.
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

export const handle: StreamHandler = async (input, deps) => {
  const target = resolveTarget(deps.config.root, input.params.user ?? '', input.params.rest ?? '');
  const dataset = target.home ? undefined : await datasetOf(target, deps);
  switch (input.method) {
    case 'OPTIONS':
      return send(input, 200, '', { allow: ALLOW, dav: '1' });
    case 'PUT':
      return put(input, target, dataset, deps);
    case 'GET':
    case 'HEAD':
      return get(input, target, dataset);
    case 'DELETE':
      return remove(input, target, dataset);
    case 'MKCOL':
      return mkcol(input, target, dataset);
    case 'PROPFIND':
      return propfind(input, target);
    default:
      throw new Invalid(`method ${input.method} is not allowed on /data; use ${ALLOW}`);
  }
};

async function datasetOf(target: Target, deps: Deps): Promise<DatasetDoc> {
  const doc = await datasetsCollection(deps.store).get(datasetId(target.user, target.name));
  return doc ?? notFound(target.name);
}

function writable(target: Target, dataset: DatasetDoc | undefined): void {
  if (dataset && dataset.state !== 'creating') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}; files can be written only while it is creating`);
  if (!target.rel) throw new Invalid('name a file inside the dataset or home');
}

async function put(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
  writable(target, dataset);
  if (target.slash) throw new Invalid('PUT needs a file path, not a folder');
  await mkdir(path.dirname(target.file), { recursive: true });
  const existing = await statOrNull(target.file);
  if (existing?.isDirectory()) throw new Conflict(`${target.rel} is a folder`);
  // API.md §4: the bytes stored for a dataset may never exceed its size.
  const room = async () => (dataset ? dataset.size - (await bytesUnder(target.root)) + (existing?.size ?? 0) : Number.MAX_SAFE_INTEGER);
  const tooBig = dataset ? `upload would exceed dataset ${dataset.name}'s size of ${dataset.size} bytes` : '';
  const declared = Number(input.headers['content-length'] ?? NaN);
  if (dataset && Number.isFinite(declared) && declared > (await room())) throw new Forbidden(tooBig);
  const { temp, size } = await receive(input.req, target.file, await room(), tooBig);
  await serialized(target.root, async () => {
    // Checked again at commit: another upload may have landed, or the dataset moved on, meanwhile.
    const now = dataset ? await datasetsCollection(deps.store).get(dataset._id) : undefined;
    if (dataset && now?.state !== 'creating') {
      await rm(temp, { force: true });
      throw new Conflict(`dataset ${dataset.name} is ${now?.state ?? 'gone'}; the upload was not kept`);
    }
    if (size > (await room())) {
      await rm(temp, { force: true });
      throw new Forbidden(tooBig);
    }
    await commit(temp, target.file);
  });
  deps.log.debug('stored', { file: target.file, bytes: size });
  send(input, existing ? 204 : 201, '');
}

async function get(input: StreamInput, target: Target, dataset: DatasetDoc | undefined): Promise<void> {
  const s = await statOrNull(target.file);
  if (!target.rel || target.slash || s?.isDirectory()) {
    // The listing works while creating too, so a client can resume an upload.
    if (dataset && dataset.state !== 'creating' && dataset.state !== 'ready') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}`);
    if (target.rel && !s) throw new Forbidden(`${target.rel} not found in ${target.name}`);
    const files = (await walk(target.file)).filter((e) => !e.dir).map((e) => ({ path: e.path, size: e.size }));
    return send(input, 200, JSON.stringify(files), { 'content-type': 'application/json' });
  }
  if (dataset && dataset.state !== 'ready') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}; files can be downloaded once it is ready`);
  if (!s) throw new Forbidden(`${target.rel} not found in ${target.name}`);
  const range = parseRange(input.headers.range, s.size);
  const start = range?.start ?? 0;
  const end = range?.end ?? s.size - 1;
  input.res.writeHead(range ? 206 : 200, {
    'content-type': 'application/octet-stream',
    'content-length': s.size === 0 ? 0 : end - start + 1,
    'accept-ranges': 'bytes',
    'last-modified': s.mtime.toUTCString(),
    ...(range ? { 'content-range': `bytes ${start}-${end}/${s.size}` } : {}),
  });
  if (input.method === 'HEAD' || s.size === 0) {
    input.res.end();
    return;
  }
  await pipeline(createReadStream(target.file, { start, end }), input.res);
}

async function remove(input: StreamInput, target: Target, dataset: DatasetDoc | undefined): Promise<void> {
  if (dataset && dataset.state !== 'creating') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}; uploads can be discarded only while it is creating`);
  if (!target.rel && target.home) throw new Invalid('the home itself cannot be deleted; delete files in it');
  const s = await statOrNull(target.file);
  if (target.rel && !s) throw new Forbidden(`${target.rel} not found in ${target.name}`);
  // DELETE /data/{user}/{dataset} discards everything uploaded so far (restart an upload).
  await rm(target.file, { recursive: true, force: true });
  send(input, 204, '');
}

async function mkcol(input: StreamInput, target: Target, dataset: DatasetDoc | undefined): Promise<void> {
  writable(target, dataset);
  if (await statOrNull(target.file)) throw new Conflict(`${target.rel} already exists`);
  await mkdir(target.file, { recursive: true });
  send(input, 201, '');
}

async function propfind(input: StreamInput, target: Target): Promise<void> {
  const depth = input.headers.depth ?? '1';
  if (depth !== '0' && depth !== '1') throw new Invalid('PROPFIND Depth must be 0 or 1');
  const s = await statOrNull(target.file);
  if (!s && target.rel) throw new Forbidden(`${target.rel} not found in ${target.name}`);
  const self = s ? { dir: s.isDirectory(), size: s.size, mtime: s.mtime } : { dir: true, size: 0, mtime: new Date(0) };
  const children = depth === '1' && self.dir ? await walk(target.file, 1) : [];
  const href = `/data/${target.user}/${target.name}${target.rel ? `/${target.rel}` : ''}`;
  send(input, 207, multistatus(href, self, children), { 'content-type': 'application/xml; charset=utf-8' });
}

function send(input: StreamInput, status: number, body: string, headers: Record<string, string> = {}): void {
  input.res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  input.res.end(input.method === 'HEAD' ? undefined : body);
}
