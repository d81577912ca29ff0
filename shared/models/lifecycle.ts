import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { v4 as uuid } from 'uuid';
import type { Deps } from '../wiring/deps.js';
import { errorMessage, isClientError, NotFound, SourceChanged } from '../core/errors.js';
import { modelMachine, modelsCollection, type ModelDoc } from '../records/models.js';
import { storagePaths } from '../storage/paths.js';
import { releaseHold, type HoldSpec } from '../tcc/hold.js';
import { copyTree } from './files.js';

/** A model reserves rom for its files (docs/api.md#models). */
export const MODEL_HOLD: HoldSpec<ModelDoc> = { applier: 'mm', amounts: (m) => ({ rom: m.size }) };

/** A copier that has not finished within this long is presumed dead and replaced. */
export const COPY_LEASE_MS = 60_000;

export function modelNotFound(name: string): never {
  throw new NotFound(`model ${name} not found`);
}

/** The job's outputs that a model is made of (docs/api.md#models: its ckpt/ folder). */
export const ckptOf = (root: string, user: string, job: string) => path.join(storagePaths(root).job(user, job), 'ckpt');
/** The same folder as steps below MLP_ROOT, each opened without following links (files.ts). */
export const ckptSegments = (user: string, job: string) => ['jobs', user, job, 'ckpt'];

/**
 * Copies a creating model's files from its job's ckpt/ and makes it ready. Claimed by a
 * conditional update, so one copier works at a time; the files land in a private folder first and
 * are renamed into place, so a reader never sees half a model. Idempotent; answers the model
 * as it stands afterwards (null when another copier holds the claim).
 */
export async function finishCopy(doc: ModelDoc, deps: Deps): Promise<ModelDoc | null> {
  const col = modelsCollection(deps.store);
  const now = deps.now();
  if (doc.state !== 'creating' || doc.res !== 'held') return doc;
  if (doc.copy_at && now.getTime() - Date.parse(doc.copy_at) < COPY_LEASE_MS) return null;
  const claim = uuid();
  const claimed = await col.update(doc._id, { version: doc.version, state: 'creating' }, { set: { copy_claim: claim, copy_at: now.toISOString() } });
  if (!claimed) return null;
  const final = storagePaths(deps.config.root).model(claimed.user, claimed.name);
  // Model names are [a-z]+, so this dot-name can never be another model's folder.
  const staging = path.join(path.dirname(final), `.${claimed.name}.${claim}`);
  let set: Partial<ModelDoc>;
  try {
    const copied = await copyTree(deps.config.root, ckptSegments(claimed.user, claimed.src), staging);
    if (!copied) throw Object.assign(new Error(`job ${claimed.src}'s ckpt/ is gone`), { code: 'ENOENT' });
    if (copied.bytes !== claimed.size) throw new SourceChanged(`ckpt/ of job ${claimed.src} changed while it was copied (${copied.bytes} bytes, ${claimed.size} reserved)`);
    await rm(final, { recursive: true, force: true });
    await rename(staging, final);
    set = { state: modelMachine.transition('creating', 'copied') };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    // The files went away or are not what they were: the model fails, with the reason.
    if (!(isClientError(err) || code === 'ENOENT' || code === 'ENOTDIR' || err instanceof SourceChanged)) throw err;
    const reason = code ? `job ${claimed.src}'s ckpt/ is gone (it was deleted while the model was copied)` : errorMessage(err);
    set = { state: modelMachine.transition('creating', 'fail'), msg: `copying the model failed: ${reason}` };
  }
  const done = await col.update(claimed._id, { version: claimed.version, copy_claim: claim }, { set, unset: ['copy_claim', 'copy_at'] });
  if (!done && set.state === 'ready') {
    // Another copier took over (ours was too slow): its copy is the same files; it finishes.
    deps.log.warn('model copy finished after its claim was taken over', { model: claimed._id });
  }
  return done;
}

/** Finishes a deletion: files, then rom (exactly once), then the record. Idempotent. */
export async function finishModelDeletion(doc: ModelDoc, deps: Deps): Promise<boolean> {
  const col = modelsCollection(deps.store);
  await rm(storagePaths(deps.config.root).model(doc.user, doc.name), { recursive: true, force: true });
  const released = await releaseHold(col, doc, MODEL_HOLD, deps);
  if (!released) return false;
  return col.remove(released._id, { version: released.version });
}
