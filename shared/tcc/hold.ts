import type { Deps } from '../wiring/deps.js';
import { isClientError } from '../core/errors.js';
import type { Collection, Doc } from '../store/port.js';
import type { ApiAmounts } from './client.js';
import type { Applier } from './ledger.js';
import { releaseOnce } from './release-once.js';
import { settleTry } from './settle.js';

/**
 * Where an object's reservation stands with the Resource-manager: trying (tried, outcome not
 * recorded yet), held (confirmed), none (never held), released (given back).
 */
export type HoldState = 'trying' | 'held' | 'none' | 'released';

/** An object that reserves resources when it is created and gives them back when it is deleted. */
export interface Holder extends Doc {
  uid: string;
  name: string;
  tenant: string;
  state: string;
  msg?: string;
  res: HoldState;
  /** Bumped when a release try expired unconfirmed, so the next one has a fresh id. */
  release_attempt?: number;
}

/** What one kind of object reserves, and how its requests are named (from its uid, so retries repeat them). */
export interface HoldSpec<T extends Holder> {
  applier: Applier;
  amounts(doc: T): ApiAmounts;
}

export const holdTryId = (applier: Applier, d: Pick<Holder, 'uid'>) => `${applier}-${d.uid}`;
export const holdReleaseId = (applier: Applier, d: Pick<Holder, 'uid' | 'release_attempt'>) => `${applier}-rel-${d.uid}-${d.release_attempt ?? 0}`;

/**
 * Reserves for a record just inserted with res 'trying' (the record takes the name first). A
 * refused try removes the record, so a refusal changes nothing; a fault settles the try and
 * rethrows; a refused confirm (the try timed out) makes the object failed (docs/api.md#resources). Returns
 * the record as it stands afterwards.
 */
export async function reserve<T extends Holder>(typed: Collection<T>, doc: T, spec: HoldSpec<T>, deps: Deps, undo: () => Promise<void> = async () => undefined): Promise<T> {
  const col = view(typed);
  const id = holdTryId(spec.applier, doc);
  try {
    await deps.tcc.try({ id, applier: spec.applier, request_type: 'request', tenant: doc.tenant, ...spec.amounts(doc) });
  } catch (err) {
    if (isClientError(err)) {
      await col.remove(doc._id, { version: doc.version });
      await undo();
      throw err;
    }
    await settleHold(typed, doc, spec, deps);
    throw err;
  }
  try {
    await deps.tcc.confirm(id, spec.applier);
  } catch (err) {
    if (!isClientError(err)) throw err; // res stays 'trying'; the object's reconciler settles it
    const failed = await col.update(doc._id, { version: doc.version }, { set: { res: 'none', state: 'error', msg: `resource reservation failed: ${err.message}` } });
    return (failed as T | null) ?? doc;
  }
  return ((await col.update(doc._id, { version: doc.version }, { set: { res: 'held' } })) as T | null) ?? doc;
}

/**
 * Settles a try whose outcome was never recorded (the creating call died between steps; settleTry
 * decides it) and records how it stands: held, or none — and a creation it interrupted failed. Returns the record as it stands afterwards, or null if it
 * changed under us.
 */
export async function settleHold<T extends Holder>(typed: Collection<T>, doc: T, spec: HoldSpec<T>, deps: Deps): Promise<T | null> {
  const col = view(typed);
  if ((await settleTry(deps.tcc, holdTryId(spec.applier, doc), spec.applier)) === 'held') return (await col.update(doc._id, { version: doc.version }, { set: { res: 'held' } })) as T | null;
  const set: Partial<Holder> = { res: 'none' };
  if (doc.state === 'creating') Object.assign(set, { state: 'error', msg: 'creation was interrupted before its resources were reserved; delete it and create it again' });
  return (await col.update(doc._id, { version: doc.version }, { set })) as T | null;
}

/**
 * Gives back what the object holds, exactly once (settling an unrecorded try first). Returns the
 * record with res 'released' or 'none', or null when this pass could not finish (changed under
 * us, or the release's try expired: the next pass uses a fresh id).
 */
export async function releaseHold<T extends Holder>(typed: Collection<T>, doc: T, spec: HoldSpec<T>, deps: Deps): Promise<T | null> {
  const col = view(typed);
  let cur: T | null = doc;
  if (cur.res === 'trying') cur = await settleHold(typed, cur, spec, deps);
  if (cur?.res !== 'held') return cur;
  const outcome = await releaseOnce(deps, { id: holdReleaseId(spec.applier, cur), applier: spec.applier, tenant: cur.tenant, ...spec.amounts(cur), what: `${spec.applier} ${cur._id}` });
  if (outcome === 'expired') {
    await col.update(cur._id, { version: cur.version }, { inc: { release_attempt: 1 } });
    return null;
  }
  return (await col.update(cur._id, { version: cur.version }, { set: { res: 'released' } })) as T | null;
}

/** The helpers touch only the Holder fields; T's own fields pass through unchanged. */
const view = <T extends Holder>(col: Collection<T>) => col as unknown as Collection<Holder>;
