import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SingleBar, Presets } from 'cli-progress';
import { segmentProblem } from '../../shared/storage/file-name.js';
import { encodePath, ServerError, type Api } from './api.js';
import { localFiles } from './walk.js';

interface Dataset {
  name: string;
  size: number;
  state: string;
  progress: number;
  msg?: string;
}

function progressBar(total: number, quiet: boolean) {
  const bar = new SingleBar({ format: '{bar} {percentage}% | {value}/{total} bytes | {file}', noTTYOutput: false, stopOnComplete: false }, Presets.shades_classic);
  if (!quiet) bar.start(total, 0, { file: '' });
  return {
    tick: (bytes: number, file: string) => quiet || bar.increment(bytes, { file }),
    stop: () => quiet || bar.stop(),
  };
}

/**
 * Creates the dataset with the folder's size (or resumes one still creating), uploads every
 * file not already stored whole, reports progress by heartbeat, and marks it ready.
 */
export async function upload(client: Api, user: string, dir: string, name: string, log: (line: string) => void, quiet: boolean): Promise<void> {
  const files = await localFiles(dir);
  for (const f of files) {
    for (const s of f.rel.split('/')) {
      const why = segmentProblem(s);
      if (why) throw new Error(`cannot upload ${f.rel}: the name ${JSON.stringify(s)} ${why} (a name is 1–255 bytes of UTF-8 without "/" or control characters, not . or ..)`);
    }
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const base = `/api/v1/users/${user}/datasets`;
  let dataset: Dataset;
  try {
    dataset = await client.json<Dataset>('GET', `${base}/${name}`);
    if (dataset.state !== 'creating') throw new Error(`dataset ${name} is ${dataset.state}; only a dataset still creating can be resumed`);
    if (dataset.size < total) throw new Error(`dataset ${name} was created for ${dataset.size} bytes; ${dir} now holds ${total}`);
    log(`resuming upload of ${name}`);
  } catch (err) {
    if (!(err instanceof ServerError && err.code === 'NOT_FOUND')) throw err;
    dataset = await client.json<Dataset>('POST', base, { name, size: total });
    log(`created dataset ${name} (${total} bytes, ${files.length} files)`);
  }
  const stored = new Map((await client.json<{ path: string; size: number }[]>('GET', `/data/${user}/${name}/`)).map((f) => [f.path, f.size]));
  const bar = progressBar(total, quiet);
  let done = 0;
  let lastBeat = 0;
  const beat = async (force = false) => {
    const progress = total === 0 ? 99 : Math.min(99, Math.floor((done / total) * 100));
    if (!force && progress === lastBeat) return;
    lastBeat = progress;
    await client.json('PUT', `${base}/${name}:heartbeat`, { state: 'creating', progress });
  };
  let skipped = 0;
  try {
    for (const f of files) {
      if (stored.get(f.rel) === f.size) {
        skipped += 1;
        done += f.size;
        bar.tick(f.size, f.rel);
        continue;
      }
      const counter = new Transform({
        transform(chunk: Buffer, _enc, next) {
          done += chunk.length;
          bar.tick(chunk.length, f.rel);
          next(null, chunk);
        },
      });
      await client.dav('PUT', `/data/${user}/${name}/${encodePath(f.rel)}`, { body: createReadStream(f.abs).pipe(counter), length: f.size });
      await beat();
    }
  } finally {
    bar.stop();
  }
  await client.json('PUT', `${base}/${name}:heartbeat`, { state: 'ready', progress: 100 });
  log(`dataset ${name} is ready: ${files.length - skipped} files uploaded${skipped ? `, ${skipped} already stored` : ''}`);
}

/** Downloads every file of a ready dataset into `dir`, skipping files already there whole. */
export async function download(client: Api, user: string, name: string, dir: string, log: (line: string) => void, quiet: boolean): Promise<void> {
  const files = await client.json<{ path: string; size: number }[]>('GET', `/data/${user}/${name}/`);
  const total = files.reduce((sum, f) => sum + f.size, 0);
  const bar = progressBar(total, quiet);
  let fetched = 0;
  try {
    for (const f of files) {
      // The server's names, checked again before they become local paths.
      if (f.path.split('/').some((s) => segmentProblem(s))) throw new Error(`the listing of ${name} holds a path that cannot be a local file: ${JSON.stringify(f.path)}`);
      const target = path.join(dir, ...f.path.split('/'));
      const have = await stat(target).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      if (have?.size === f.size) {
        bar.tick(f.size, f.path);
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      const res = await client.dav('GET', `/data/${user}/${name}/${encodePath(f.path)}`);
      const counter = new Transform({
        transform(chunk: Buffer, _enc, next) {
          bar.tick(chunk.length, f.path);
          next(null, chunk);
        },
      });
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), counter, createWriteStream(target));
      fetched += 1;
    }
  } finally {
    bar.stop();
  }
  log(`downloaded ${fetched} of ${files.length} files of ${name} into ${dir}`);
}

export async function list(client: Api, user: string, print: (line: string) => void): Promise<void> {
  let shown = 0;
  for await (const page of client.pages<Dataset>(`/api/v1/users/${user}/datasets`)) {
    for (const d of page) print(`${d.name.padEnd(24)} ${d.state.padEnd(9)} ${String(d.progress).padStart(3)}%  ${d.size} bytes${d.msg ? `  (${d.msg})` : ''}`);
    shown += page.length;
  }
  if (shown === 0) print('no datasets');
}

export async function remove(client: Api, user: string, name: string, print: (line: string) => void): Promise<void> {
  const d = await client.json<Dataset>('DELETE', `/api/v1/users/${user}/datasets/${name}`);
  print(`dataset ${d.name} is ${d.state}`);
}
