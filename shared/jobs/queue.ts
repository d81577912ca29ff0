import { describe, exceeding, KINDS, sub, ZERO, type Amounts } from '../tcc/amounts.js';

/** A waiting job as the admission policy sees it (amounts exact, as the ledger keeps them). */
export interface Queued {
  id: string;
  name: string;
  user: string;
  tenant: string;
  need: Amounts;
  /** When it became its user's first waiting job (ISO); unset: it is one from now on. */
  head_at?: string;
}

/** A tenant's capacity and what is in use, exact. */
export interface TenantUse {
  capacity: Amounts;
  inuse: Amounts;
}

export interface Waiting {
  job: Queued;
  /** What it waits for, in words the user reads on the job. */
  msg: string;
  /** Set for each user's first waiting job: when it became so (to keep, so its wait counts on). */
  head_at?: string;
}

export interface Plan {
  /** To try in this order; each was planned to fit after the ones before it. */
  admit: Queued[];
  waiting: Waiting[];
}

/**
 * docs/api.md#jobs, fair admission, decided on a snapshot (pure; the ledger still has the last word on
 * every try). `queue` is oldest first; each user's jobs keep that order, and only a user's first
 * waiting job (its head) may be admitted. Heads take turns by how long they have been heads, so a
 * user whose head was just admitted goes behind the others. A head that does not fit does not
 * hold up the heads behind it, until it has been a head for `reserveMs`: from then on what it
 * needs is kept for it out of what is free (heads behind it are admitted only if they fit in
 * the rest), so as resources free they gather for it and it is never starved.
 */
export function planAdmission(queue: Queued[], tenants: Record<string, TenantUse>, opts: { now: Date; reserveMs: number }): Plan {
  const nowMs = opts.now.getTime();
  const order = new Map(queue.map((q, i) => [q.id, i]));
  const perUser = new Map<string, Queued[]>();
  for (const q of queue) {
    const jobs = perUser.get(q.user);
    if (jobs) jobs.push(q);
    else perUser.set(q.user, [q]);
  }
  const headAt = new Map<string, number>();
  for (const jobs of perUser.values()) {
    const first = jobs[0];
    if (first) headAt.set(first.id, first.head_at !== undefined ? Date.parse(first.head_at) : nowMs);
  }
  const pool: Record<string, Amounts> = {};
  for (const [tenant, t] of Object.entries(tenants)) pool[tenant] = atLeastZero(sub(t.capacity, t.inuse));
  // Keeping resources for a job that can never fit (capacity lowered since) would stop everyone.
  const never = (h: Queued) => exceeding(h.need, tenants[h.tenant]?.capacity ?? ZERO);
  const reserved = (h: Queued) => never(h).length === 0 && Math.max(0, nowMs - (headAt.get(h.id) ?? nowMs)) >= opts.reserveMs;
  // Promoted heads count as heads from just after now, in the order they were promoted, so a
  // user admitted in this pass goes behind everyone already waiting (and stays so once stored).
  let promoted = 0;
  const admit: Queued[] = [];
  for (;;) {
    const heads = [...perUser.values()].flatMap((jobs) => (jobs[0] ? [jobs[0]] : []));
    heads.sort((a, b) => (headAt.get(a.id) ?? 0) - (headAt.get(b.id) ?? 0) || (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    // What heads further back may take: the pool less what is kept for reserved heads ahead.
    const avail: Record<string, Amounts> = { ...pool };
    const notes = new Map<string, string>();
    let next: Queued | undefined;
    for (const h of heads) {
      const have = avail[h.tenant] ?? ZERO;
      const short = exceeding(h.need, have);
      if (short.length === 0) {
        next = h;
        break;
      }
      const cannot = never(h);
      if (cannot.length > 0)
        notes.set(
          h.id,
          `waiting for resources: request can never fit the tenant as now configured: needs ${describe(h.need, cannot)}; capacity ${describe(tenants[h.tenant]?.capacity ?? ZERO, cannot)}`,
        );
      else notes.set(h.id, shortMsg(h, short, pool[h.tenant] ?? ZERO, have, reserved(h), (headAt.get(h.id) ?? nowMs) + opts.reserveMs));
      if (reserved(h)) avail[h.tenant] = atLeastZero(sub(have, h.need));
    }
    if (next) {
      admit.push(next);
      pool[next.tenant] = sub(pool[next.tenant] ?? ZERO, next.need);
      const jobs = perUser.get(next.user) ?? [];
      jobs.shift();
      if (jobs[0]) headAt.set(jobs[0].id, nowMs + ++promoted);
      continue;
    }
    const waiting: Waiting[] = [];
    for (const jobs of perUser.values()) {
      const [head, ...behind] = jobs;
      if (!head) continue;
      waiting.push({ job: head, msg: notes.get(head.id) ?? 'waiting for resources', head_at: new Date(headAt.get(head.id) ?? nowMs).toISOString() });
      for (const job of behind) waiting.push({ job, msg: `waiting for resources: queued behind your earlier job ${head.name} (your jobs start in the order you submitted them)` });
    }
    return { admit, waiting };
  }
}

function shortMsg(h: Queued, short: (typeof KINDS)[number][], pool: Amounts, have: Amounts, isReserved: boolean, reserveAt: number): string {
  const kept = sub(pool, have);
  const keptShort = short.filter((k) => kept[k] > 0);
  const parts = [`waiting for resources: request does not fit now: needs ${describe(h.need, short)}; free ${describe(pool, short)}`];
  if (keptShort.length > 0) parts.push(`, of which ${describe(kept, keptShort)} is kept for a job that has waited longer`);
  parts.push(
    isReserved ? '; reserved: resources that free up are kept for this job until it fits' : `; if it still waits at ${new Date(reserveAt).toISOString()}, resources that free up will be kept for it`,
  );
  return parts.join('');
}

function atLeastZero(a: Amounts): Amounts {
  const out = { ...a };
  for (const k of KINDS) out[k] = Math.max(0, out[k]);
  return out;
}
