import { rename } from 'node:fs/promises';
import type { Deps } from '../../shared/wiring/deps.js';
import { Forbidden, Invalid, ParentMissing, PreconditionFailed } from '../../shared/core/errors.js';
import type { DatasetDoc } from '../../shared/records/datasets.js';
import type { StreamInput } from '../../shared/routes/route.js';
import { bytesIn, durability, lstatIn, openIn, removeIn, type Folder } from '../../shared/webdav/confined.js';
import { copyIn, destinationPath } from '../../shared/webdav/copy.js';
import { resolveTarget, type Target } from '../../shared/webdav/target.js';
import { serialized } from './accounting.js';
import { linkRefused, missing, openRoot, propsOf, send, using, writable } from './common.js';

/**
 * COPY and MOVE (RFC 4918 §9.8, §9.9) within one dataset or home, under the rules of PUT: only
 * while a dataset is creating (the home any time), never past its size or the home quota, never
 * through a link. Overwrite: F refuses an existing destination; T (the default) replaces it.
 */
export async function copyOrMove(input: StreamInput, target: Target, dataset: DatasetDoc | undefined, deps: Deps): Promise<void> {
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
