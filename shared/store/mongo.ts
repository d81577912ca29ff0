import { MongoClient, MongoError, MongoNetworkError, MongoServerSelectionError, type Collection as MongoCollection, type Document, type IndexDescription } from 'mongodb';
import { Conflict, Unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { matches, monotonicClock } from './filter.js';
import { KeyQueue, type Turn } from './key-queue.js';
import { DEFAULT_LEASE, Leases, NOT_NEEDED, type Lease, type LeaseOptions } from './mongo-lease.js';
import type { Change, Collection, CollectionName, Cursor, Doc, Filter, FindOptions, New, Store } from './port.js';

// Names are unique per user and kind (docs/api.md#conventions); _id carries the same key, the index keeps it explicit.
// A user's list, a page of it included, is read in creation order from `user_created`, so on MongoDB
// a page costs the same however many objects there are (test/contract/paging.test.ts shows the plan).
// FerretDB 1.24, the tests' server, uses no index for a find: it scans the table and filters and
// sorts in memory, so there a page costs in proportion to the collection (scripts/bench/paging-ferretdb.ts).
const userCreated: IndexDescription = { key: { user: 1, created_at: 1, _id: 1 }, name: 'user_created' };
const INDEXES: Partial<Record<CollectionName, IndexDescription[]>> = {
  dataset: [{ key: { user: 1, name: 1 }, unique: true, name: 'user_name' }, userCreated],
  job: [{ key: { user: 1, name: 1 }, unique: true, name: 'user_name' }, userCreated],
  model: [{ key: { user: 1, name: 1 }, unique: true, name: 'user_name' }, userCreated],
  app_group: [{ key: { user: 1, name: 1 }, unique: true, name: 'user_name' }, userCreated],
  sweep: [{ key: { user: 1, name: 1 }, unique: true, name: 'user_name' }, userCreated],
  metrics: [{ key: { user: 1, name: 1, epoch: 1 }, unique: true, name: 'user_name_epoch' }],
};
const ALL: CollectionName[] = ['user', 'tenant', 'resource_request', 'job', 'metrics', 'model', 'dataset', 'app_group', 'app_port', 'sweep'];

/**
 * The production Store: one MongoClient per process; database `mlp` unless the URL names one.
 * Every conditional write (update, remove) runs under a per-document lease (mongo-lease.ts),
 * so compare-and-set holds on servers whose findAndModify is not atomic, such as FerretDB 1.x,
 * and between any number of processes sharing the database.
 */
export async function openMongoStore(opts: { url: string; log: Logger; now?: () => Date; serverSelectionTimeoutMS?: number; lease?: Partial<LeaseOptions> }): Promise<Store> {
  const now = monotonicClock(opts.now ?? (() => new Date()));
  const client = new MongoClient(opts.url, { serverSelectionTimeoutMS: opts.serverSelectionTimeoutMS ?? 5000, retryWrites: true });
  try {
    await client.connect();
  } catch (err) {
    throw new Unavailable(`cannot reach MongoDB at ${redact(opts.url)}: ${(err as Error).message}`);
  }
  const db = client.db(dbName(opts.url));
  await guard(async () => {
    for (const name of ALL) {
      await db.collection(name).createIndex({ created_at: 1, _id: 1 }, { name: 'created' });
      for (const index of INDEXES[name] ?? []) await db.collection(name).createIndexes([index]);
    }
  });
  const leaseOpts = { ...DEFAULT_LEASE, ...opts.lease };
  const leases = new Leases(db.collection('lease'), db.collection('lease_break'), leaseOpts, opts.log);
  const queue = new KeyQueue<Document, Lease>();
  /** Turns still passing on or releasing a lease after their caller was answered; close() waits for them. */
  const inflight = new Set<Promise<void>>();

  async function underLease<R>(
    turn: Turn<Document, Lease>,
    key: string,
    stillMatches: () => Promise<boolean>,
    where: Filter<unknown>,
    write: (sent: (doc: Document | null) => void) => Promise<R>,
  ): Promise<R | undefined> {
    if (turn.known !== undefined && (turn.known === null || !matches(turn.known, where))) return undefined;
    let lease = turn.held;
    turn.held = undefined;
    if (lease && !leases.fresh(lease)) {
      await leases.release(lease);
      lease = undefined;
    }
    if (!lease) {
      const taken = await leases.take(key, stillMatches);
      if (taken === NOT_NEEDED) return undefined;
      lease = taken;
    }
    try {
      const result = await write(turn.sending());
      turn.held = lease;
      return result;
    } catch (err) {
      await leases.release(lease);
      throw err;
    }
  }

  async function passOrRelease(turn: Turn<Document, Lease>): Promise<void> {
    if (!turn.held) return;
    // A caller that writes the same document again as soon as it has its answer queues within this tick.
    if (!turn.othersWaiting()) await new Promise((resolve) => setImmediate(resolve));
    if (turn.othersWaiting()) return;
    const held = turn.held;
    turn.held = undefined;
    await leases.release(held);
  }
  opts.log.info('mongo store ready', { db: db.databaseName, lease_ttl_ms: leaseOpts.ttlMs });

  const collection = <T extends Doc>(name: CollectionName): Collection<T> => {
    const c = db.collection(name) as unknown as MongoCollection<Document>;
    const matching = async (id: string, where: Filter<T>) => {
      const doc = await c.findOne({ _id: id } as Document);
      return doc !== null && matches(doc, where as Filter<unknown>);
    };
    /**
     * Runs a write conditional on `where` under the document's lease; undefined when the
     * document is known not to match (gone, or changed by a write this one queued behind).
     * The caller has its answer as soon as the write is done; the lease is then passed on to
     * the next writer of this process queued for the same document, or released.
     */
    const conditionally = <R>(id: string, where: Filter<T>, write: (sent: (doc: Document | null) => void) => Promise<R>): Promise<R | undefined> =>
      new Promise<R | undefined>((answer, fail) => {
        const key = `${name}/${id}`;
        const turnDone = queue.run(key, async (turn) => {
          try {
            answer(await underLease(turn, key, () => matching(id, where), where, write));
          } catch (err) {
            fail(err);
          } finally {
            await passOrRelease(turn);
          }
        });
        inflight.add(turnDone);
        void turnDone.finally(() => inflight.delete(turnDone));
      });
    return {
      insert: (fresh: New<T>) =>
        guard(async () => {
          const t = now();
          const doc = { ...fresh, version: 1, created_at: t, updated_at: t } as unknown as T;
          try {
            await c.insertOne({ ...doc } as Document);
          } catch (err) {
            if (err instanceof MongoError && err.code === 11000) throw new Conflict(`${name} ${fresh._id} already exists`);
            throw err;
          }
          return doc;
        }),
      get: (id) => guard(async () => (await c.findOne({ _id: id } as Document)) as T | null),
      find: (filter?: Filter<T>, findOpts?: FindOptions) =>
        guard(async () => {
          const cursor = c.find(findQuery(filter, findOpts?.after)).sort({ created_at: 1, _id: 1 });
          if (findOpts?.limit !== undefined) cursor.limit(findOpts.limit);
          return (await cursor.toArray()) as unknown as T[];
        }),
      update: (id, where: Filter<T>, change: Change<T>) =>
        guard(async () => {
          const update: Document = {
            $set: { ...(change.set ?? {}), updated_at: now() },
            $inc: { ...(change.inc ?? {}), version: 1 },
          };
          if (change.unset?.length) update.$unset = Object.fromEntries(change.unset.map((f) => [f, '']));
          const doc = await conditionally(id, where, async (sent) => {
            const after = await c.findOneAndUpdate({ ...(where as Document), _id: id } as Document, update, { returnDocument: 'after' });
            if (after) sent(after);
            return after;
          });
          return (doc ?? null) as T | null;
        }),
      remove: (id, where?: Filter<T>) =>
        guard(async () => {
          const removed = await conditionally(id, where ?? {}, async (sent) => {
            const gone = (await c.deleteOne({ ...((where ?? {}) as Document), _id: id } as Document)).deletedCount === 1;
            if (gone) sent(null);
            return gone;
          });
          return removed ?? false;
        }),
      // Not queued with the conditional writes above: it is for documents no compare-and-set touches.
      upsertMany: (docs: New<T>[]) =>
        guard(async () => {
          if (docs.length === 0) return;
          const t = now();
          const ops = docs.map(({ _id, ...fields }) => ({
            updateOne: { filter: { _id } as Document, update: { $set: { ...fields, updated_at: t }, $inc: { version: 1 }, $setOnInsert: { created_at: t } }, upsert: true },
          }));
          await c.bulkWrite(ops, { ordered: true });
        }),
    };
  };

  return {
    kind: 'mongodb',
    collection,
    ping: () => guard(async () => void (await db.command({ ping: 1 }))),
    async close() {
      await Promise.all(inflight);
      await client.close();
    },
  };
}

/**
 * The filter, and when paging, only what comes after the cursor in (created_at, _id) order:
 * created_at >= the cursor's (a range on the index's second key, so the scan starts at the
 * cursor), minus the few documents of that same instant up to the cursor's _id. Top-level keys
 * stay top-level: MongoDB bounds the index scan with them, and FerretDB pushes down (on its
 * PostgreSQL backend only) a top-level equality and nothing nested in $and.
 */
export function findQuery(filter: Filter<unknown> | undefined, after: Cursor | undefined): Document {
  const query = { ...((filter ?? {}) as Document) };
  if (!after) return query;
  const from = { created_at: { $gte: after.created_at } };
  const notUpTo = { $nor: [{ created_at: after.created_at, _id: { $lte: after._id } }] };
  if ('created_at' in query || '$nor' in query) return { $and: [query, from, notUpTo] };
  return { ...query, ...from, ...notUpTo };
}

/** A server that cannot be reached is a fault the caller may retry: 503 with a plain reason. */
async function guard<R>(op: () => Promise<R>): Promise<R> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof MongoServerSelectionError || err instanceof MongoNetworkError) {
      throw new Unavailable(`database unreachable: ${err.message}`);
    }
    throw err;
  }
}

function dbName(url: string): string {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(url);
  return m?.[1] ? decodeURIComponent(m[1]) : 'mlp';
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
