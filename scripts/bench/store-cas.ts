// What the MongoDB adapter's document leases cost: conditional updates through the adapter
// against the bare findOneAndUpdate it would otherwise send, on the server MLP_MONGO_URL
// names (e.g. `eval "$(npm run -s infra:up)"`). Usage: MLP_MONGO_URL=… npm run bench:store
import { performance } from 'node:perf_hooks';
import { MongoClient, type Document } from 'mongodb';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import type { Doc, Store } from '../../shared/store/port.js';

interface Counter extends Doc {
  n: number;
}

const url = process.env.MLP_MONGO_URL;
if (!url) {
  process.stderr.write('set MLP_MONGO_URL (npm run -s infra:up prints one)\n');
  process.exit(2);
}
const db = `bench${process.pid}`;
const dbUrl = url.replace(/^(mongodb(?:\+srv)?:\/\/[^/]+).*$/, `$1/${db}`);
const SEQUENTIAL = 300;
const INCREMENTS = 200;

const log = createLogger({ component: 'bench', sinks: [memorySink()] });
const client = new MongoClient(dbUrl);
await client.connect();
const raw = client.db().collection<Document>('conformance');
const stores: Store[] = [];
const openStore = async () => {
  const s = await openMongoStore({ url: dbUrl, log });
  stores.push(s);
  return s.collection<Counter>('conformance');
};

const msPerOp = async (n: number, op: (i: number) => Promise<unknown>) => {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await op(i);
  return (performance.now() - t0) / n;
};

/** `clients` × `lanes` writers increment one counter by compare-and-set on version until it reaches INCREMENTS. */
async function race(name: string, clients: number, lanes: number, cas: (c: number) => Promise<(id: string, version: number) => Promise<boolean>>) {
  const id = `race-${name}`;
  await raw.insertOne({ _id: id, n: 0, version: 1, created_at: new Date().toISOString(), updated_at: new Date().toISOString() } as Document);
  const writers = await Promise.all(Array.from({ length: clients }, (_, c) => cas(c)));
  let wins = 0;
  const t0 = performance.now();
  await Promise.all(
    writers.flatMap((write) =>
      Array.from({ length: lanes }, async () => {
        for (;;) {
          const cur = await raw.findOne({ _id: id } as Document);
          if (!cur || cur.n >= INCREMENTS) return;
          if (await write(id, cur.version as number)) wins += 1;
        }
      }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const final = (await raw.findOne({ _id: id } as Document))?.n as number;
  return { name, writers: `${clients} clients × ${lanes}`, 'updates/s': Math.round(wins / seconds), 'won CAS': wins, 'final n': final, correct: wins === final && final === INCREMENTS };
}

try {
  const col = await openStore();
  await raw.insertMany([
    { _id: 'seq-raw', n: 0, version: 1 },
    { _id: 'rmw-raw', n: 0, version: 1 },
  ] as Document[]);
  const tight = await col.insert({ _id: 'seq-lease', n: 0 });
  const rmw = await col.insert({ _id: 'rmw-lease', n: 0 });
  const bareUpdate = (id: string, version: number) =>
    raw.findOneAndUpdate({ _id: id, version } as Document, { $inc: { n: 1, version: 1 }, $set: { updated_at: new Date().toISOString() } }, { returnDocument: 'after' });
  const rows = [
    { what: 'update after update: bare findOneAndUpdate (no lease; not atomic on FerretDB)', 'ms/update': await msPerOp(SEQUENTIAL, (i) => bareUpdate('seq-raw', i + 1)) },
    { what: 'update after update: adapter (lease passed on from one update to the next)', 'ms/update': await msPerOp(SEQUENTIAL, (i) => col.update(tight._id, { version: i + 1 }, { inc: { n: 1 } })) },
    {
      what: 'read, then update on its version: bare findOne + findOneAndUpdate',
      'ms/update': await msPerOp(SEQUENTIAL, async () => bareUpdate('rmw-raw', ((await raw.findOne({ _id: 'rmw-raw' } as Document))?.version as number) ?? 0)),
    },
    {
      what: 'read, then update on its version: adapter (lease taken and released each time)',
      'ms/update': await msPerOp(SEQUENTIAL, async () => col.update(rmw._id, { version: (await col.get(rmw._id))?.version ?? 0 }, { inc: { n: 1 } })),
    },
    { what: '(for scale) insertOne of a small document', 'ms/update': await msPerOp(SEQUENTIAL, (i) => raw.insertOne({ _id: `ins-${i}` } as Document)) },
    { what: '(for scale) deleteOne of a small document', 'ms/update': await msPerOp(SEQUENTIAL, (i) => raw.deleteOne({ _id: `ins-${i}` } as Document)) },
  ];
  process.stdout.write(`one writer, ${SEQUENTIAL} conditional updates each:\n`);
  console.table(rows.map((r) => ({ ...r, 'ms/update': r['ms/update'].toFixed(2) })));

  const bareCas = async () => async (id: string, version: number) => (await raw.findOneAndUpdate({ _id: id, version } as Document, { $inc: { n: 1, version: 1 } })) !== null;
  const adapterCas = async () => {
    const c = await openStore();
    return async (id: string, version: number) => (await c.update(id, { version }, { inc: { n: 1 } })) !== null;
  };
  const shared = await openStore();
  const oneClientCas = async () => async (id: string, version: number) => (await shared.update(id, { version }, { inc: { n: 1 } })) !== null;
  process.stdout.write(`\ncompare-and-set on version until one counter reaches ${INCREMENTS} (correct: every won CAS counted once):\n`);
  console.table([await race('bare', 4, 4, bareCas), await race('adapter-clients', 4, 4, adapterCas), await race('adapter-one-client', 1, 16, oneClientCas)]);
} finally {
  for (const s of stores) await s.close();
  await client.db().dropDatabase();
  await client.close();
}
