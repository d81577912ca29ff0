import { spawn } from 'node:child_process';
import t, { type Test } from 'tap';
import { MongoClient } from 'mongodb';
import { Unavailable } from '../../shared/core/errors.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import type { LeaseOptions } from '../../shared/store/mongo-lease.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import type { Doc, Store } from '../../shared/store/port.js';
import { selfIdentity } from '../../shared/store/process-identity.js';
import { withDatabase } from '../helpers/platform.js';

// The MongoDB adapter's document leases (shared/store/mongo-lease.ts): what a writer does
// when it finds a lease taken — by a process that is gone, by one it cannot see, by a live one.
interface Item extends Doc {
  n: number;
}

const mongoUrl = process.env.MLP_TEST_MONGO_URL;
if (!mongoUrl) {
  t.plan(0, 'MLP_TEST_MONGO_URL not set (npm test sets it)');
} else {
  const url = withDatabase(mongoUrl, `lease${process.pid}`);
  const client = new MongoClient(url);
  t.teardown(() => client.close());
  const leases = () => client.db().collection<{ _id: string; holder: string; taken_at: string; owner: unknown }>('lease');
  let seq = 0;

  const open = async (t: Test, lease: LeaseOptions) => {
    const sink = memorySink();
    const store: Store = await openMongoStore({ url, log: createLogger({ component: 'test', sinks: [sink], level: 'debug' }), lease });
    t.teardown(() => store.close());
    const col = store.collection<Item>('conformance');
    const doc = await col.insert({ _id: `lease-${process.pid}-${(seq += 1)}`, n: 0 });
    return { store, col, doc, logs: sink.lines, key: `conformance/${doc._id}` };
  };
  const leftBy = (key: string, owner: unknown) => leases().insertOne({ _id: key, holder: `left-${key}`, taken_at: new Date().toISOString(), owner });

  t.test('a lease whose holder process is gone (same host) is broken without waiting for its TTL', async (t) => {
    const { store, col, doc, logs, key } = await open(t, { ttlMs: 600_000, waitMs: 10_000 });
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => child.on('exit', resolve));
    await leftBy(key, { ...selfIdentity(), pid: child.pid, start: '1' });
    t.equal((await col.update(doc._id, { version: 1 }, { inc: { n: 1 } }))?.n, 1, 'the write went through');
    t.ok(
      logs.some((l) => l.includes('broke a lease: its holder process is gone')),
      'because the holder was provably gone',
    );
    await store.close(); // waits for the lease to be released after the answer
    t.equal(await leases().findOne({ _id: key }), null, 'and its own lease is released');
  });

  t.test('a lease of a holder nobody can see is broken after the TTL', async (t) => {
    const { col, doc, logs, key } = await open(t, { ttlMs: 300, waitMs: 10_000 });
    await leftBy(key, { host: 'another-host', pid: 1 });
    t.equal((await col.update(doc._id, {}, { inc: { n: 1 } }))?.n, 1);
    t.ok(
      logs.some((l) => l.includes('broke a lease: its holder did not release it in time')),
      'broken once seen for the TTL',
    );
  });

  t.test('a live holder is waited for, never broken', async (t) => {
    const { col, doc, logs, key } = await open(t, { ttlMs: 600_000, waitMs: 30_000 });
    await leftBy(key, selfIdentity());
    const writing = col.update(doc._id, { version: 1 }, { inc: { n: 1 } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await leases().deleteOne({ _id: key });
    t.equal((await writing)?.n, 1, 'the write went through once the holder let go');
    t.notOk(
      logs.some((l) => l.includes('broke a lease')),
      'nothing was broken',
    );
  });

  t.test('while it waits, a write whose condition stopped holding answers "no match" without the lease', async (t) => {
    const { col, doc, key } = await open(t, { ttlMs: 600_000, waitMs: 30_000 });
    await leftBy(key, selfIdentity());
    const writing = col.update(doc._id, { version: 1 }, { inc: { n: 1 } });
    // The holder's write lands, as another process's would.
    await client
      .db()
      .collection<Item>('conformance')
      .updateOne({ _id: doc._id }, { $inc: { n: 10, version: 1 } });
    t.equal(await writing, null, 'condition not met');
    t.equal((await col.get(doc._id))?.n, 10, 'and it wrote nothing');
    await leases().deleteOne({ _id: key });
  });

  t.test('a lease held longer than the wait is a clear Unavailable fault', async (t) => {
    const { col, doc, key } = await open(t, { ttlMs: 600_000, waitMs: 300 });
    await leftBy(key, selfIdentity());
    const err = await col.update(doc._id, {}, { inc: { n: 1 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.ok(err instanceof Unavailable, 'Unavailable (503)');
    t.match((err as Error).message, /is busy/);
    t.equal((await col.get(doc._id))?.n, 0, 'nothing written');
    await leases().deleteOne({ _id: key });
  });
}
