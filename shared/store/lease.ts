import { randomUUID } from 'node:crypto';
import { Conflict } from '../core/errors.js';
import type { Endpoint } from '../http/adapter.js';
import type { Logger } from '../core/log.js';
import type { CollectionName, Doc, Store } from './port.js';

/**
 * Short leases in the store, so that a scheduled reconciler triggered twice at once (two cron
 * deliveries, two replicas, two platforms on one database) never runs two passes over each other.
 *
 * A lease is a chain of documents `<name>#<n>`. To take it, read the newest link: when it is
 * released or expired, insert link n+1. Only the insert decides, and it is atomic on _id on
 * every adapter (embedded, MongoDB, FerretDB, whose conditional updates are not atomic under
 * concurrent writers — FerretDB #3040), so of two takers that saw the same newest link, one
 * wins and the other finds its id taken. The holder renews its expiry while it runs, marks its
 * link released at the end and removes the older links. A taker so slow that it re-inserts a
 * removed link finds a newer one when it checks after its insert, and backs off.
 */
export interface LeaseDoc extends Doc {
  name: string;
  n: number;
  holder: string;
  expires_at: string;
  released?: boolean;
}

// Not one of the contract's collections (shared/store/port.ts): the platform's own bookkeeping.
const LEASES = 'lease' as CollectionName;

export interface LeaseOptions {
  store: Store;
  now: () => Date;
  log: Logger;
  /** How long a lease lasts without renewal (a holder that died frees it after this). */
  ttlMs?: number;
}

export type Taken = { taken: true; release(): Promise<void> } | { taken: false; holder: string; expires_at: string };

export const DEFAULT_LEASE_TTL_MS = 30_000;

export async function takeLease(name: string, opts: LeaseOptions): Promise<Taken> {
  const col = opts.store.collection<LeaseDoc>(LEASES);
  const ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const expiry = () => new Date(opts.now().getTime() + ttlMs).toISOString();
  const links = await col.find({ name });
  const newest = newestOf(links);
  if (newest && !free(newest, opts.now())) return { taken: false, holder: newest.holder, expires_at: newest.expires_at };
  const n = (newest?.n ?? -1) + 1;
  const holder = randomUUID();
  const id = `${name}#${n}`;
  try {
    await col.insert({ _id: id, name, n, holder, expires_at: expiry() });
  } catch (err) {
    if (!(err instanceof Conflict)) throw err;
    const winner = await col.get(id);
    return { taken: false, holder: winner?.holder ?? 'another taker', expires_at: winner?.expires_at ?? expiry() };
  }
  const after = newestOf(await col.find({ name }));
  if (after && after.n > n) {
    // This link had been removed already: a newer holder exists.
    await col.remove(id, { holder });
    return { taken: false, holder: after.holder, expires_at: after.expires_at };
  }
  for (const old of links) await col.remove(old._id, { n: old.n });

  // Renewed well before it expires, so a long pass keeps it.
  let renewing: Promise<unknown> = Promise.resolve();
  const renewal = setInterval(
    () => {
      renewing = col.update(id, { holder, released: { $ne: true } }, { set: { expires_at: expiry() } }).catch((err: unknown) => {
        // The pass goes on; if the lease lapses meanwhile, another pass may start (passes are idempotent).
        opts.log.warn('lease not renewed', { lease: name, err: (err as Error).message });
      });
    },
    Math.max(10, Math.floor(ttlMs / 3)),
  );
  renewal.unref();
  let released: Promise<void> | undefined;
  return {
    taken: true,
    release() {
      released ??= (async () => {
        clearInterval(renewal);
        // A renewal still writing could undo the release where updates are not atomic (FerretDB).
        await renewing;
        await col.update(id, { holder }, { set: { released: true, expires_at: opts.now().toISOString() } });
      })();
      return released;
    },
  };
}

/** Runs `pass` under the lease `name`, or answers who holds it when another pass runs. */
export async function runExclusive<T>(name: string, opts: LeaseOptions, pass: () => Promise<T>): Promise<{ ran: true; value: T } | { ran: false; expires_at: string }> {
  const lease = await takeLease(name, opts);
  if (!lease.taken) return { ran: false, expires_at: lease.expires_at };
  try {
    return { ran: true, value: await pass() };
  } finally {
    await lease.release();
  }
}

/**
 * A scheduled function's trigger under its lease `reconcile:<name>`: a trigger that arrives
 * while another pass runs (here or in another process) answers 200 saying it skipped.
 */
export function exclusiveTrigger(name: string, handler: Endpoint, opts: LeaseOptions): Endpoint {
  return async (event, matched) => {
    const outcome = await runExclusive(`reconcile:${name}`, opts, () => handler(event, matched));
    if (outcome.ran) return outcome.value;
    const skipped = `another pass of ${name} is running (its lease lasts until ${outcome.expires_at} unless renewed); this trigger did nothing`;
    opts.log.debug('scheduled pass skipped', { function: name, expires_at: outcome.expires_at });
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ skipped }) };
  };
}

function newestOf(links: LeaseDoc[]): LeaseDoc | undefined {
  return links.reduce<LeaseDoc | undefined>((a, b) => (!a || b.n > a.n ? b : a), undefined);
}

function free(link: LeaseDoc, now: Date): boolean {
  return link.released === true || link.expires_at <= now.toISOString();
}
