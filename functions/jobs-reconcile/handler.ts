import { admitWaiting, finishDeletion, releaseEnded, settleTrying, syncWorkloads } from '../../shared/jobs/lifecycle.js';
import { jobsCollection } from '../../shared/repos/jobs.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

/** Level-triggered and idempotent; the order frees resources before admitting. */
export const handle: Handler<typeof route> = async (_input, deps) => {
  const col = jobsCollection(deps.store);
  const synced = await syncWorkloads(deps);
  const released = await releaseEnded(deps);
  const cutoff = new Date(deps.now().getTime() - deps.config.tccTimeout * 1000).toISOString();
  const settled: string[] = [];
  for (const job of await col.find({ res: 'trying', updated_at: { $lt: cutoff } })) if (await settleTrying(job, deps)) settled.push(job.name);
  const deleted: string[] = [];
  for (const job of await col.find({ state: 'deleting' })) if (await finishDeletion(job, deps)) deleted.push(job.name);
  const admitted = await admitWaiting(deps);
  return { synced, released, settled, deleted, admitted };
};
