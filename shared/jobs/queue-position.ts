import { add, exceeding, sub, type Amounts } from '../tcc/amounts.js';
import { planAdmission, type Queued, type TenantUse } from './queue.js';

/** A running job as the estimate sees it: what it holds and how long it has left (null: unknown). */
export interface Running {
  tenant: string;
  need: Amounts;
  remainingS: number | null;
}

/** docs/api.md#experiments: a waiting job's place (1 is next) and its estimated wait. */
export interface QueuePosition {
  position: number;
  eta_s: number | null;
}

/** Past this many simulated releases the rest of the queue is ordered without an estimate. */
const MAX_STEPS = 500;

/**
 * How long a running job has left, from its progress rate: it reached `progress` % in
 * `elapsedS` seconds, so it needs (100 − progress) / rate more. Unknown before any progress.
 */
export function remainingS(progress: number, elapsedS: number): number | null {
  if (!(progress > 0) || !(elapsedS > 0)) return null;
  if (progress >= 100) return 0;
  return ((100 - progress) * elapsedS) / progress;
}

/** A running job's whole run time at its current rate (what a job admitted later is assumed to take). */
export function totalS(progress: number, elapsedS: number): number | null {
  return progress > 0 && elapsedS > 0 ? (100 * elapsedS) / Math.min(progress, 100) : null;
}

/**
 * Positions and waits of every waiting job, by replaying the admission rule of shared/jobs/queue.ts
 * forward in time: running jobs release what they hold when their progress rate says they end,
 * and at each release the same fair rule admits what now fits; a job so admitted is assumed to
 * run `typicalS` (the mean run time of the running jobs; null: it never releases in the replay).
 * Positions count per tenant in the order of admission; jobs the replay cannot admit (a running
 * job with no progress yet holds what they need) follow in the rule's turn order with eta null.
 */
export function queuePositions(queue: Queued[], tenants: Record<string, TenantUse>, running: Running[], opts: { now: Date; reserveMs: number; typicalS: number | null }): Map<string, QueuePosition> {
  const out = new Map<string, QueuePosition>();
  const counts = new Map<string, number>();
  const place = (q: Queued, eta: number | null) => {
    const position = (counts.get(q.tenant) ?? 0) + 1;
    counts.set(q.tenant, position);
    out.set(q.id, { position, eta_s: eta === null ? null : Math.round(eta) });
  };
  const use: Record<string, TenantUse> = Object.fromEntries(Object.entries(tenants).map(([k, v]) => [k, { capacity: v.capacity, inuse: v.inuse }]));
  const releases = running.filter((r) => r.remainingS !== null).map((r) => ({ at: r.remainingS as number, tenant: r.tenant, need: r.need }));
  let waiting = queue;
  let at = 0;
  for (let step = 0; waiting.length > 0 && step < MAX_STEPS; step++) {
    const plan = planAdmission(waiting, use, { now: new Date(opts.now.getTime() + at * 1000), reserveMs: opts.reserveMs });
    for (const q of plan.admit) {
      place(q, at);
      hold(use, q.tenant, q.need, add);
      if (opts.typicalS !== null) releases.push({ at: at + opts.typicalS, tenant: q.tenant, need: q.need });
    }
    waiting = carryHeads(waiting, plan);
    releases.sort((a, b) => a.at - b.at);
    const next = releases.shift();
    if (!next) break;
    at = Math.max(at, next.at);
    hold(use, next.tenant, next.need, sub);
  }
  for (const q of turnOrder(waiting, tenants, opts.now)) place(q, null);
  return out;
}

/**
 * The order the rule admits `queue` in were everything free: users' first jobs take turns by how
 * long they have been first (a user just served goes behind the others), each user's jobs in
 * submission order. A job that can never fit its tenant, and its user's jobs behind it, come last.
 */
function turnOrder(queue: Queued[], tenants: Record<string, TenantUse>, now: Date): Queued[] {
  const perUser = new Map<string, Queued[]>();
  for (const q of queue) {
    const jobs = perUser.get(q.user);
    if (jobs) jobs.push(q);
    else perUser.set(q.user, [q]);
  }
  const heads = [...perUser.values()].map((jobs, i) => ({ jobs, at: jobs[0]?.head_at ? Date.parse(jobs[0].head_at) : now.getTime(), order: i }));
  const fits = (q: Queued) => exceeding(q.need, tenants[q.tenant]?.capacity ?? q.need).length === 0 && tenants[q.tenant] !== undefined;
  const out: Queued[] = [];
  let promoted = 0;
  for (;;) {
    heads.sort((a, b) => a.at - b.at || a.order - b.order);
    const head = heads.find((h) => h.jobs[0] && fits(h.jobs[0]));
    if (!head) break;
    out.push(head.jobs.shift() as Queued);
    head.at = now.getTime() + ++promoted;
  }
  for (const h of heads) out.push(...h.jobs);
  return out;
}

/** The queue less what was admitted, keeping its order, each user's head keeping its head time. */
function carryHeads(queue: Queued[], plan: ReturnType<typeof planAdmission>): Queued[] {
  const admitted = new Set(plan.admit.map((q) => q.id));
  const headAt = new Map(plan.waiting.flatMap((w) => (w.head_at ? [[w.job.id, w.head_at] as const] : [])));
  return queue.filter((q) => !admitted.has(q.id)).map((q) => (headAt.has(q.id) ? { ...q, head_at: headAt.get(q.id) as string } : q));
}

function hold(use: Record<string, TenantUse>, tenant: string, need: Amounts, op: (a: Amounts, b: Amounts) => Amounts): void {
  const t = use[tenant];
  if (t) use[tenant] = { capacity: t.capacity, inuse: op(t.inuse, need) };
}
