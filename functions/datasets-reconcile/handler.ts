import { finishDeletion, settleRom } from '../../shared/datasets/lifecycle.js';
import { datasetsCollection } from '../../shared/records/datasets.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/** Level-triggered and idempotent: every pass looks at what is not steady and moves it on. */
export const handle: Handler<typeof route> = async (_input, deps) => {
  const col = datasetsCollection(deps.store);
  const now = deps.now().getTime();
  const out = { deleted: [] as string[], settled: [] as string[], stale: [] as string[] };
  for (const d of await col.find({ state: 'deleting' })) {
    if (await finishDeletion(d, deps)) out.deleted.push(d._id);
  }
  // A create still running may hold rom 'trying' for a moment; after the TCC timeout it cannot.
  const tryCutoff = new Date(now - deps.config.tccTimeout * 1000).toISOString();
  for (const d of await col.find({ rom: 'trying', updated_at: { $lt: tryCutoff } })) {
    if (await settleRom(d, deps)) out.settled.push(d._id);
  }
  const staleCutoff = new Date(now - deps.config.datasetStale * 1000).toISOString();
  for (const d of await col.find({ state: 'creating', heartbeat_at: { $lt: staleCutoff } })) {
    const msg = `no heartbeat for ${deps.config.datasetStale} s; the upload was abandoned`;
    if (await col.update(d._id, { version: d.version, state: 'creating' }, { set: { state: 'error', msg } })) out.stale.push(d._id);
  }
  return out;
};
