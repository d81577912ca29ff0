// What one page of a user's list costs at 10 and at 10,000 objects (the goal: "a page costs the
// same at 10,000 objects as at 10"), on the MongoDB-wire server the tests run (FerretDB).
// For each size: a fresh database, the adapter's indexes (openMongoStore), N job-like documents of
// one user, then one page (limit 100 + 1, keyset `after` in the middle of the list) read through
// the adapter and through the raw driver with the same query, the median of a few reads, and the
// server's explain of that query.
// Usage: npx tsx scripts/bench/paging-ferretdb.ts            (starts and stops its own FerretDB)
//        MLP_MONGO_URL=mongodb://… npx tsx scripts/bench/paging-ferretdb.ts   (a running server)
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MongoClient, type Document } from 'mongodb';
import { jobId, jobsCollection, type JobDoc } from '../../shared/records/jobs.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { findQuery, openMongoStore } from '../../shared/store/mongo.js';
import type { Cursor } from '../../shared/store/port.js';

const SIZES = [10, 10_000];
const PAGE = 100;
const READS = 7;

interface Infra {
  env: { MLP_MONGO_URL?: string };
  stop(): Promise<void>;
  record: { dataDirs: string[] };
}
// A specifier TypeScript does not resolve, so the untyped module does not break strict mode.
const UP = new URL('../infra/up.mjs', import.meta.url).href;
const given = process.env.MLP_MONGO_URL;
const { infraUp } = (await import(UP)) as { infraUp(o: { kafka: boolean; log: (m: string) => void }): Promise<Infra> };
const infra = given ? undefined : await infraUp({ kafka: false, log: (m) => process.stderr.write(`${m}\n`) });
const url = given ?? (infra?.env.MLP_MONGO_URL as string);
const log = createLogger({ component: 'bench', sinks: [memorySink()] });
const withDb = (db: string) => url.replace(/^(mongodb(?:\+srv)?:\/\/[^/]+).*$/, `$1/${db}`);

// The database file FerretDB keeps for `db` (SQLite backend, only when this script started it).
const sqliteFile = (db: string) => (infra ? path.join(infra.record.dataDirs[0] as string, 'ferretdb', `${db}.sqlite`) : undefined);
const hasSqlite3 = spawnSync('sh', ['-c', 'command -v sqlite3'], { stdio: 'ignore' }).status === 0;
// Statements go in on stdin: sqlite3 prints `.timer` lines only for input it reads there.
const sqlite = (file: string, ...statements: string[]) => {
  const r = spawnSync('sqlite3', [`file:${file}?mode=ro`], { input: `${statements.join(';\n')};\n`, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sqlite3: ${r.stderr}`);
  return r.stdout.trim();
};

/** FerretDB's SQL for a page (no WHERE: it filters and sorts in memory) and the SQL an index pushdown would send. */
function sqlitePlans(db: string, n: number, after: Cursor): string | undefined {
  const file = sqliteFile(db);
  if (!file || !hasSqlite3) return undefined;
  const table = sqlite(file, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'job\\_%' ESCAPE '\\'");
  const j = (v: string) => `'${JSON.stringify(v).replace(/'/g, "''")}'`;
  const ferret = `SELECT _ferretdb_sjson FROM "${table}"`;
  // The index's own expressions (`->"field"`, as FerretDB's CREATE INDEX writes them), so SQLite can use it.
  const pushed = `SELECT _ferretdb_sjson FROM "${table}" WHERE _ferretdb_sjson->"user" = ${j('alice')} AND (_ferretdb_sjson->"created_at" > ${j(after.created_at)} OR (_ferretdb_sjson->"created_at" = ${j(after.created_at)} AND _ferretdb_sjson->"_id" > ${j(after._id)})) ORDER BY _ferretdb_sjson->"created_at", _ferretdb_sjson->"_id" LIMIT ${PAGE + 1}`;
  const timeOf = (sql: string) => {
    // Reads every row it returns (count(*) alone would skip the column); once to warm the page
    // cache, then timed (a dot-command takes no `;`, so it shares the timed statement's line).
    const out = sqlite(file, `SELECT sum(length(_ferretdb_sjson)) FROM (${sql})`, `.timer on\nSELECT sum(length(_ferretdb_sjson)) FROM (${sql})`);
    return /Run Time: real ([\d.]+)[^\n]*$/.exec(out)?.[1] ?? '?';
  };
  return [
    `sqlite, n=${n}: indexes: ${sqlite(file, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = '${table}'`).replace(/\n/g, '; ')}`,
    `sqlite, n=${n}: FerretDB's SQL for a page: ${sqlite(file, `EXPLAIN QUERY PLAN ${ferret}`).replace(/\n/g, ' ')}; ${timeOf(ferret)} s for all rows`,
    `sqlite, n=${n}: the same page through user_created: ${sqlite(file, `EXPLAIN QUERY PLAN ${pushed}`).replace(/\n/g, ' ')}; ${timeOf(pushed)} s for ${sqlite(file, `SELECT count(*) FROM (${pushed})`)} rows`,
  ].join('\n');
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const timed = async (op: () => Promise<unknown>) => {
  await op(); // warm-up: connection, statement cache
  const ms: number[] = [];
  for (let i = 0; i < READS; i++) {
    const t0 = performance.now();
    await op();
    ms.push(performance.now() - t0);
  }
  return median(ms);
};

/** A finished job as jobs-create and the reconciler leave it, created `i` ms after a fixed instant. */
const jobDoc = (user: string, i: number): JobDoc => {
  const at = new Date(Date.UTC(2026, 0, 1) + i).toISOString();
  const name = `job${i.toString(36).padStart(4, '0')}`;
  return {
    _id: jobId(user, name),
    uid: `${user}-${name}-uid`,
    name,
    user,
    tenant: 'default',
    runtime: 'tf',
    entry: 'train.mjs',
    gpu: 0,
    cpu: 0.5,
    ram: 100,
    state: 'finished',
    progress: 100,
    res: 'released',
    launched: true,
    version: 3,
    created_at: at,
    updated_at: at,
  } as JobDoc;
};

const rows: string[] = [];
try {
  for (const n of SIZES) {
    const db = `pagebench${process.pid}n${n}`;
    const store = await openMongoStore({ url: withDb(db), log });
    const client = await MongoClient.connect(withDb(db));
    try {
      const raw = client.db().collection<{ _id: string } & Document>('job');
      const docs = Array.from({ length: n }, (_, i) => jobDoc('alice', i));
      for (let i = 0; i < n; i += 1000) await raw.insertMany(docs.slice(i, i + 1000) as ({ _id: string } & Document)[]);
      // Another user's short list beside it: what a page costs is it the user's list or the collection.
      const bobs = Array.from({ length: 10 }, (_, i) => jobDoc('bob', n + i));
      await raw.insertMany(bobs as ({ _id: string } & Document)[]);
      const bobAfter: Cursor = { created_at: (bobs[4] as JobDoc).created_at, _id: (bobs[4] as JobDoc)._id };
      const mid = docs[Math.floor(n / 2)] as JobDoc;
      const after: Cursor = { created_at: mid.created_at, _id: mid._id };
      const jobs = jobsCollection(store);
      const page = await jobs.find({ user: 'alice' }, { limit: PAGE + 1, after });
      const expected = Math.min(PAGE + 1, n - Math.floor(n / 2) - 1);
      if (page.length !== expected) throw new Error(`n=${n}: page of ${page.length}, expected ${expected}`);
      const rawPage = () =>
        raw
          .find(findQuery({ user: 'alice' }, after))
          .sort({ created_at: 1, _id: 1 })
          .limit(PAGE + 1)
          .toArray();
      const adapterMs = await timed(() => jobs.find({ user: 'alice' }, { limit: PAGE + 1, after }));
      const rawMs = await timed(rawPage);
      const firstMs = await timed(() => jobs.find({ user: 'alice' }, { limit: PAGE + 1 }));
      const bobMs = await timed(() => jobs.find({ user: 'bob' }, { limit: PAGE + 1, after: bobAfter }));
      const byIdMs = await timed(() => raw.findOne({ _id: mid._id }));
      const idPlan = await raw.find({ _id: mid._id }).limit(1).explain('executionStats');
      process.stdout.write(`explain of an _id get, n=${n}: ${JSON.stringify(idPlan.queryPlanner?.winningPlan ?? { queryPlanner: idPlan.queryPlanner, filterPushdown: idPlan.filterPushdown })}\n`);
      const plan = await raw
        .find(findQuery({ user: 'alice' }, after))
        .sort({ created_at: 1, _id: 1 })
        .limit(PAGE + 1)
        .explain('executionStats');
      const shown = plan.queryPlanner?.winningPlan
        ? {
            winningPlan: plan.queryPlanner.winningPlan,
            executionStats: plan.executionStats && { totalKeysExamined: plan.executionStats.totalKeysExamined, totalDocsExamined: plan.executionStats.totalDocsExamined },
          }
        : { queryPlanner: plan.queryPlanner, filterPushdown: plan.filterPushdown, sortPushdown: plan.sortPushdown, limitPushdown: plan.limitPushdown };
      process.stdout.write(`explain, n=${n}: ${JSON.stringify(shown)}\n`);
      const sql = sqlitePlans(db, n, after);
      if (sql) process.stdout.write(`${sql}\n`);
      rows.push(
        `${String(n).padStart(6)}  ${adapterMs.toFixed(1).padStart(8)}  ${rawMs.toFixed(1).padStart(8)}  ${firstMs.toFixed(1).padStart(10)}  ${bobMs.toFixed(1).padStart(8)}  ${byIdMs.toFixed(1).padStart(8)}`,
      );
      await client.db().dropDatabase();
    } finally {
      await client.close();
      await store.close();
    }
  }
  process.stdout.write(`\nserver: ${url}; median of ${READS} reads, ms; a page = limit ${PAGE + 1}, after the middle object\n`);
  process.stdout.write(`     n   adapter       raw  first page  bob (10)  _id get\n${rows.join('\n')}\n`);
} finally {
  await infra?.stop();
}
