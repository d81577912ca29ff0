import type { Deps } from '../wiring/deps.js';
import { jobsCollection, type JobDoc } from '../records/jobs.js';
import { toExact } from '../tcc/amounts.js';
import type { Queued, TenantUse } from './queue.js';
import { queuePositions, remainingS, totalS, type QueuePosition, type Running } from './queue-position.js';

/** A job that waits for resources: created, not yet admitted (or being tried). */
export const isWaiting = (j: Pick<JobDoc, 'state' | 'res'>): boolean => j.state === 'creating' && (j.res === 'waiting' || j.res === 'trying');

/**
 * Queue positions and waits (docs/api.md#experiments) of every waiting job of the tenants of
 * `jobs`, from one snapshot: the queue as shared/jobs/lifecycle.ts admitWaiting reads it, the
 * running jobs' progress rates (progress over the time since `running_at`), and the tenants'
 * capacity and use. Empty, without reading anything more, when none of `jobs` waits.
 */
export async function queueOf(deps: Deps, jobs: Pick<JobDoc, 'state' | 'res' | 'tenant'>[]): Promise<Map<string, QueuePosition>> {
  const tenantsAsked = new Set(jobs.filter(isWaiting).map((j) => j.tenant));
  if (tenantsAsked.size === 0) return new Map();
  const col = jobsCollection(deps.store);
  const [queue, active] = await Promise.all([col.find({ state: 'creating', res: { $in: ['waiting', 'trying'] } }), col.find({ res: 'held', state: { $in: ['creating', 'running'] } })]);
  const tenants: Record<string, TenantUse> = {};
  for (const name of tenantsAsked) {
    const t = await deps.resources.getTenant(name);
    if (t) tenants[name] = { capacity: t.capacity, inuse: t.inuse };
  }
  const nowMs = deps.now().getTime();
  const totals: number[] = [];
  const running: Running[] = active
    .filter((j) => tenantsAsked.has(j.tenant))
    .map((j) => {
      const elapsed = j.state === 'running' && j.running_at ? (nowMs - Date.parse(j.running_at)) / 1000 : 0;
      const total = totalS(j.progress, elapsed);
      if (total !== null) totals.push(total);
      return { tenant: j.tenant, need: toExact(j), remainingS: remainingS(j.progress, elapsed) };
    });
  const typicalS = totals.length > 0 ? totals.reduce((a, b) => a + b, 0) / totals.length : null;
  const queued = queue
    .filter((j) => tenantsAsked.has(j.tenant))
    .map((j): Queued => ({ id: j._id, name: j.name, user: j.user, tenant: j.tenant, need: toExact(j), ...(j.head_at ? { head_at: j.head_at } : {}) }));
  return queuePositions(queued, tenants, running, { now: deps.now(), reserveMs: deps.config.queueReserve * 1000, typicalS });
}
