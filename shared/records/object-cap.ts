import type { Deps } from '../wiring/deps.js';
import { Forbidden } from '../core/errors.js';
import type { Collection, Doc, Filter } from '../store/port.js';

const SINGULAR = { datasets: 'dataset', jobs: 'job', models: 'model', apps: 'app', sweeps: 'sweep' } as const;
export type ObjectKind = keyof typeof SINGULAR;

/**
 * Refuses a create when the user already has MLP_MAX_OBJECTS_PER_USER objects of this kind (each
 * kind counts apart, whatever their state or size, so records that hold no quota, like empty
 * datasets, are bounded too). It reads at most that many of the user's records, served by the
 * user_name index on MongoDB; a count kept per user would make it O(1), at the price of one more
 * write per create and delete. Check and insert are two steps: creates racing at the cap may pass
 * it by as many as run at once, which still bounds what a user can make the platform hold.
 */
export async function checkObjectCap<T extends Doc & { user: string }>(deps: Deps, col: Collection<T>, user: string, kind: ObjectKind): Promise<void> {
  const max = deps.config.maxObjectsPerUser;
  const have = await col.find({ user } as Filter<T>, { limit: max });
  if (have.length >= max) throw new Forbidden(`you have ${max} ${max === 1 ? SINGULAR[kind] : kind}, the most one user may have; delete some first`);
}
