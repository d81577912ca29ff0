import { finishCopy, finishModelDeletion, MODEL_HOLD } from '../../shared/models/lifecycle.js';
import { modelsCollection } from '../../shared/records/models.js';
import type { Handler } from '../../shared/routes/route.js';
import { settleHold } from '../../shared/tcc/hold.js';
import type route from './route.js';

/** Level-triggered and idempotent: every pass looks at what is not steady and moves it on. */
export const handle: Handler<typeof route> = async (_input, deps) => {
  const col = modelsCollection(deps.store);
  const out = { copied: [] as string[], settled: [] as string[], deleted: [] as string[] };
  // A create still running may hold res 'trying' for a moment; after the TCC timeout it cannot.
  const tryCutoff = new Date(deps.now().getTime() - deps.config.tccTimeout * 1000).toISOString();
  for (const m of await col.find({ res: 'trying', updated_at: { $lt: tryCutoff } })) {
    if (await settleHold(col, m, MODEL_HOLD, deps)) out.settled.push(m._id);
  }
  for (const m of await col.find({ state: 'creating', res: 'held' })) {
    const done = await finishCopy(m, deps);
    if (done && done.state !== 'creating') out.copied.push(m._id);
  }
  for (const m of await col.find({ state: 'deleting' })) {
    if (await finishModelDeletion(m, deps)) out.deleted.push(m._id);
  }
  return out;
};
