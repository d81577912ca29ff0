import { rm } from 'node:fs/promises';
import type { Deps } from '../wiring/deps.js';
import { NotFound } from '../core/errors.js';
import { datasetsCollection, type DatasetDoc } from '../records/datasets.js';
import { storagePaths } from '../storage/paths.js';
import { releaseOnce } from '../tcc/release-once.js';
import { settleTry } from '../tcc/settle.js';

// Request ids derive from the dataset's uid, so every retry of a step is the same TCC request.
export const romTryId = (d: Pick<DatasetDoc, 'uid'>) => `dm-${d.uid}`;
export const romReleaseId = (d: Pick<DatasetDoc, 'uid' | 'release_attempt'>) => `dm-rel-${d.uid}-${d.release_attempt ?? 0}`;

/**
 * Settles a rom try whose outcome was never recorded (the creating call died between steps;
 * settleTry decides it) and records how it stands: held, or none — and a creation it interrupted
 * failed. Returns the dataset as recorded afterwards.
 */
export async function settleRom(d: DatasetDoc, deps: Deps): Promise<DatasetDoc | null> {
  const col = datasetsCollection(deps.store);
  if ((await settleTry(deps.tcc, romTryId(d), 'dm')) === 'held') return col.update(d._id, { version: d.version }, { set: { rom: 'held' } });
  const set: Partial<DatasetDoc> = { rom: 'none' };
  if (d.state === 'creating') Object.assign(set, { state: 'error', msg: 'creation was interrupted before its storage was reserved; delete it and create it again' });
  return col.update(d._id, { version: d.version }, { set });
}

/** Finishes a deletion: files, then rom (exactly once), then the record. Idempotent. */
export async function finishDeletion(d: DatasetDoc, deps: Deps): Promise<boolean> {
  const col = datasetsCollection(deps.store);
  let cur: DatasetDoc | null = d;
  if (cur.rom === 'trying') cur = await settleRom(cur, deps);
  if (!cur) return false; // changed under us; the next pass sees the new version
  await rm(storagePaths(deps.config.root).dataset(cur.user, cur.name), { recursive: true, force: true });
  if (cur.rom === 'held') {
    const outcome = await releaseOnce(deps, { id: romReleaseId(cur), applier: 'dm', tenant: cur.tenant, rom: cur.size, what: `dataset ${cur._id}` });
    if (outcome === 'expired') {
      // A pass died between the release's try and confirm: the next pass uses a fresh id.
      await col.update(cur._id, { version: cur.version }, { inc: { release_attempt: 1 } });
      return false;
    }
    cur = await col.update(cur._id, { version: cur.version }, { set: { rom: 'released' } });
    if (!cur) return false;
  }
  return col.remove(cur._id, { version: cur.version });
}

/** The contract's not-found answer (403, like every client error). */
export function notFound(name: string): never {
  throw new NotFound(`dataset ${name} not found`);
}
