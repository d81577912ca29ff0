import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MongoError, type Collection as MongoCollection } from 'mongodb';
import { Unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { holderIsGone, selfIdentity, type ProcessIdentity } from './process-identity.js';

/**
 * Per-document leases that make a conditional write hold on a MongoDB-wire server whose
 * findAndModify reads and writes in two steps (FerretDB 1.x on SQLite or PostgreSQL): the
 * writer first inserts `{_id: key}` into the `lease` collection — a unique `_id` is enforced
 * by every such server, so one writer at a time holds it — writes, then deletes its lease.
 *
 * A holder that dies leaves its lease behind. Another writer breaks it at once if it can
 * prove the holder's process is gone (same host and pid namespace: a restarted process), and
 * otherwise once it has seen the same holder for `ttlMs` on its own monotonic clock (so
 * clocks of different hosts never matter). Only one breaker per stale lease acts: it must
 * first insert a claim named after that holder into `lease_break`. The rule every holder keeps: a write starts only
 * within `ttlMs / 4` of taking the lease (a process may hand the lease from one queued writer
 * to the next in that window), and writes that end later than `ttlMs` after are logged as an
 * overrun (on a sane network and server a write takes milliseconds; `ttlMs` is seconds).
 */
export interface LeaseOptions {
  /** How long a lease may stay held before another writer may break it. */
  ttlMs: number;
  /** How long a writer waits for a lease before it answers Unavailable (503). */
  waitMs: number;
}

export const DEFAULT_LEASE: LeaseOptions = { ttlMs: 3000, waitMs: 30_000 };

interface LeaseDoc {
  _id: string;
  holder: string;
  taken_at: string;
  owner?: ProcessIdentity;
}

interface BreakDoc {
  /** The broken lease's holder. */
  _id: string;
  key: string;
  at: number;
}

/** What `take` answers when the write is no longer worth waiting for. */
export const NOT_NEEDED = Symbol('not needed');

export interface Lease {
  key: string;
  holder: string;
  /** performance.now() when it was taken. */
  taken: number;
}

export class Leases {
  private readonly self = selfIdentity();

  constructor(
    private readonly leases: MongoCollection<LeaseDoc>,
    private readonly breaks: MongoCollection<BreakDoc>,
    private readonly opts: LeaseOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Takes the lease on `key`, waiting while another writer holds it. Between tries it asks
   * `stillNeeded` (which reads the document); when that says no, it answers NOT_NEEDED
   * without taking the lease.
   */
  async take(key: string, stillNeeded: () => Promise<boolean>): Promise<Lease | typeof NOT_NEEDED> {
    const deadline = performance.now() + this.opts.waitMs;
    let seen: { holder: string; since: number } | undefined;
    let pause = 2;
    for (;;) {
      const holder = randomUUID();
      try {
        await this.leases.insertOne({ _id: key, holder, taken_at: new Date().toISOString(), owner: this.self });
        return { key, holder, taken: performance.now() };
      } catch (err) {
        if (!isDuplicate(err)) throw err;
      }
      const current = await this.leases.findOne({ _id: key });
      if (!current) continue; // released meanwhile: try again at once
      if (holderIsGone(current.owner, this.self)) {
        await this.breakStale(key, current, 'its holder process is gone');
        continue;
      }
      const now = performance.now();
      if (seen?.holder !== current.holder) seen = { holder: current.holder, since: now };
      else if (now - seen.since >= this.opts.ttlMs) {
        await this.breakStale(key, current, 'its holder did not release it in time (it died or stalled)');
        continue;
      }
      if (!(await stillNeeded())) return NOT_NEEDED;
      if (now >= deadline) throw new Unavailable(`${key} is busy: its lease stayed taken for ${Math.round(this.opts.waitMs / 1000)} s`);
      await new Promise((resolve) => setTimeout(resolve, pause * (0.5 + Math.random() / 2)));
      pause = Math.min(pause * 2, 50);
    }
  }

  /** Whether a write may still start under the lease (and so end well within its TTL). */
  fresh(lease: Lease): boolean {
    return performance.now() - lease.taken < this.opts.ttlMs / 4;
  }

  /**
   * A failed release is logged, not thrown: the write it guarded has happened (or failed
   * with its own error), and the lease is broken once it is stale anyway.
   */
  async release(lease: Lease): Promise<void> {
    const held = performance.now() - lease.taken;
    if (held > this.opts.ttlMs)
      this.log.error('writes under a lease took longer than the lease; another writer may have broken it', { key: lease.key, held_ms: Math.round(held), ttl_ms: this.opts.ttlMs });
    try {
      await this.leases.deleteOne({ _id: lease.key, holder: lease.holder });
    } catch (err) {
      this.log.warn('could not release a lease; it will be broken once it is stale', { key: lease.key, error: (err as Error).message });
    }
  }

  private async breakStale(key: string, stale: LeaseDoc, why: string): Promise<void> {
    try {
      await this.breaks.insertOne({ _id: stale.holder, key, at: Date.now() });
    } catch (err) {
      if (isDuplicate(err)) return; // another writer is breaking it
      throw err;
    }
    const { deletedCount } = await this.leases.deleteOne({ _id: key, holder: stale.holder });
    this.log.warn(`broke a lease: ${why}`, { key, taken_at: stale.taken_at, owner: stale.owner, ttl_ms: this.opts.ttlMs, removed: deletedCount });
    // A claim only has to outlive the breakers racing for the same lease, which act within a round trip.
    await this.breaks.deleteMany({ key, at: { $lt: Date.now() - 20 * this.opts.ttlMs } });
  }
}

function isDuplicate(err: unknown): boolean {
  return err instanceof MongoError && err.code === 11000;
}
