import { Conflict, Invalid, LinkRefused, ResourceMissing } from '../../shared/core/errors.js';
import type { DatasetDoc } from '../../shared/records/datasets.js';
import type { Deps } from '../../shared/wiring/deps.js';
import type { StreamInput } from '../../shared/routes/route.js';
import { openUnder, type Folder } from '../../shared/webdav/confined.js';
import { PropStore } from '../../shared/webdav/deadprops.js';
import type { Target } from '../../shared/webdav/target.js';

// What the methods of /data share (handler.ts dispatches to read.ts, write.ts, copy-move.ts).
// Every file operation goes through folders opened without following links (shared/webdav/confined.ts):
// a job may have planted links in its home or datasets, and none of them leads out.

export function writable(target: Target, dataset: DatasetDoc | undefined, what = 'files'): void {
  if (dataset && dataset.state !== 'creating') throw new Conflict(`dataset ${dataset.name} is ${dataset.state}; ${what} can be written only while it is creating`);
  if (!target.rel && what === 'files') throw new Invalid('name a file inside the dataset or home');
}

/** The dead properties (PROPPATCH) of the home or dataset of `target` (shared/webdav/deadprops.ts). */
export function propsOf(target: Target, dataset: DatasetDoc | undefined, deps: Deps): PropStore {
  return dataset ? PropStore.dataset(deps.config.root, target.user, dataset.uid) : PropStore.home(deps.config.root, target.user);
}

/** Runs `work` with `folder` open and closes it after. */
export async function using<T>(folder: Folder, work: (f: Folder) => Promise<T>): Promise<T> {
  try {
    return await work(folder);
  } finally {
    await folder.close();
  }
}

/** The dataset's or home's folder (refused if it or a folder above it is a link); null when missing and not to be made. */
export function openRoot(target: Target, deps: Deps, create: boolean): Promise<Folder | null> {
  return openUnder(deps.config.root, target.segments, create);
}

// RFC 4918's own outcomes (404, 409, …) answer their statuses on /data; the platform's rules stay 403.
export const missing = (target: Target) => new ResourceMissing(`${target.rel} not found in ${target.name}`);
export const linkRefused = (rel: string) => new LinkRefused(`${rel} is a link; links are not followed`);

export function send(input: StreamInput, status: number, body: string, headers: Record<string, string> = {}): void {
  input.res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  input.res.end(input.method === 'HEAD' ? undefined : body);
}
