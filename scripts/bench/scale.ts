// Scale: a user with 10,000 jobs and 10,000 datasets (copies of one real job and one real
// dataset, inserted straight into the store while the platform is stopped, to be quick). List
// (one page, ?limit=100) and get latency through the gateway, as a ratio of the same calls when
// the user has 1 of each; on the embedded store and on MongoDB (FerretDB), where the explain of
// the page's query says whether an index is used.
//   npm run bench:scale [-- --objects 10000 --calls 100 --quick --no-mongo]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { MongoClient, type Document } from 'mongodb';
import { openEmbeddedStore } from '../../shared/store/embedded.js';
import type { Doc, Store } from '../../shared/store/port.js';
import { ensureBuilt, json, median, ownDatabase, poll, run, say, section, servers, startPlatform, userToken } from './lib.js';
import { ratio } from './report.js';

const { values: args } = parseArgs({
  options: { objects: { type: 'string' }, calls: { type: 'string' }, quick: { type: 'boolean', default: false }, 'no-mongo': { type: 'boolean', default: false } },
});
const OBJECTS = Number(args.objects ?? (args.quick ? 2000 : 10_000));
const CALLS = Number(args.calls ?? (args.quick ? 30 : 100));
const SECRETS = { MLP_SECRET: 's'.repeat(40), MLP_SERVICE_TOKEN: 'v'.repeat(40) };
const KINDS = [
  { kind: 'datasets', collection: 'dataset' },
  { kind: 'jobs', collection: 'job' },
] as const;

run('scale', async () => {
  ensureBuilt();
  const s = section('scale', `A user with ${OBJECTS} jobs and ${OBJECTS} datasets`);
  const infra = args['no-mongo'] ? undefined : await servers({ mongo: true });
  try {
    await backend('embedded', {}, s);
    s.save(); // the embedded figures stand even if the MongoDB part is cut short
    if (infra?.mongo) await backend('mongodb', { MLP_MONGO_URL: ownDatabase(infra.mongo, `benchscale${process.pid}`) }, s);
    else s.note('mongodb: not measured (--no-mongo)');
    s.note(`latency is the median of ${CALLS} sequential calls (at most 5 on MongoDB); a page is ?limit=100 from the start of the list; the get names an object in the middle`);
    s.save();
  } finally {
    await infra?.stop();
  }
});

async function backend(name: string, env: Record<string, string>, s: ReturnType<typeof section>): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bench-scale-'));
  // A FerretDB page of 10,000 took 2–9 s here: fewer calls there keep the run within minutes.
  const calls = env.MLP_MONGO_URL ? Math.min(CALLS, 5) : CALLS;
  try {
    let platform = await startPlatform(root, { ...SECRETS, ...env });
    let token: string;
    const few: Record<string, { page: number; get: number }> = {};
    try {
      token = await userToken(platform.base, 'bench');
      await oneOfEach(platform.base, token);
      for (const { kind } of KINDS) few[kind] = await latencies(platform.base, token, kind, 'one', calls);
    } finally {
      await platform.stop();
    }
    const t0 = performance.now();
    await (env.MLP_MONGO_URL ? fillMongo(env.MLP_MONGO_URL) : fillEmbedded(path.join(root, 'store')));
    say(`  ${name}: inserted ${2 * (OBJECTS - 1)} copies in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    platform = await startPlatform(root, { ...SECRETS, ...env });
    try {
      for (const { kind } of KINDS) {
        const listed = await json<unknown[]>(platform.base, 'GET', `/api/v1/users/bench/${kind}?limit=100`, token);
        if (listed.length !== 100) throw new Error(`${kind}: a page of 100 held ${listed.length}`);
        const many = await latencies(platform.base, token, kind, nameOf(Math.floor(OBJECTS / 2)), calls);
        const base = few[kind] as { page: number; get: number };
        s.figure({ name: `${name}: ${kind} list, one page of 100`, value: many.page, unit: 'ms', baseline: { name: '1 object', value: base.page }, ratio: ratio(many.page, base.page, 'x') });
        s.figure({ name: `${name}: ${kind} get`, value: many.get, unit: 'ms', baseline: { name: '1 object', value: base.get }, ratio: ratio(many.get, base.get, 'x') });
      }
    } finally {
      await platform.stop();
    }
    if (env.MLP_MONGO_URL) s.note(`mongodb: ${await explainPage(env.MLP_MONGO_URL)}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** One real dataset (made ready) and one real finished job, through the API. */
async function oneOfEach(base: string, token: string): Promise<void> {
  await json(base, 'POST', '/api/v1/users/bench/datasets', token, { name: 'one', size: 1024 });
  await json(base, 'PUT', '/api/v1/users/bench/datasets/one:heartbeat', token, { state: 'ready', progress: 100 });
  const put = await fetch(`${base}/data/bench/.home/done.mjs`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'console.log("done")' });
  if (put.status >= 300) throw new Error(`home put: ${put.status}`);
  await json(base, 'POST', '/api/v1/users/bench/jobs', token, { name: 'one', entry: 'done.mjs', cpu: 0.1, ram: 100 });
  await poll(async () => ['finished', 'error'].includes((await json<{ state: string }>(base, 'GET', '/api/v1/users/bench/jobs/one', token)).state), 'the job ending');
}

async function latencies(base: string, token: string, kind: string, one: string, calls: number): Promise<{ page: number; get: number }> {
  const timeOf = async (urlPath: string) => {
    const ms: number[] = [];
    for (let i = 0; i < calls + 3; i++) {
      const t0 = performance.now();
      const res = await fetch(base + urlPath, { headers: { authorization: `Bearer ${token}` } });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`GET ${urlPath}: ${res.status} ${body}`);
      if (i >= 3) ms.push(performance.now() - t0); // the first calls warm up
    }
    return median(ms);
  };
  return { page: await timeOf(`/api/v1/users/bench/${kind}?limit=100`), get: await timeOf(`/api/v1/users/bench/${kind}/${one}`) };
}

/** Job names are lowercase letters only: i written in base 26. */
function nameOf(i: number): string {
  let s = '';
  for (let n = i, k = 0; k < 4; k++, n = Math.floor(n / 26)) s = String.fromCharCode(97 + (n % 26)) + s;
  return `copy${s}`;
}

/** A copy of the real object under another name: the name in its _id and fields replaced. */
function copyOf<T extends Doc & { name: string }>(doc: T, name: string): T {
  return JSON.parse(JSON.stringify(doc).replaceAll(`"${doc.name}"`, `"${name}"`).replaceAll(`/${doc.name}"`, `/${name}"`).replaceAll(`:${doc.name}"`, `:${name}"`)) as T;
}

async function fillEmbedded(dir: string): Promise<void> {
  const store: Store = await openEmbeddedStore({ dir });
  try {
    for (const { collection } of KINDS) {
      const col = store.collection<Doc & { name: string; user: string }>(collection);
      const [real] = await col.find({ user: 'bench' } as never);
      if (!real) throw new Error(`no ${collection} to copy`);
      const { version: _v, created_at: _c, updated_at: _u, ...fresh } = real;
      // The store commits concurrent appends together: a few hundred at a time is quick.
      for (let i = 1; i < OBJECTS; i += 500) {
        await Promise.all(Array.from({ length: Math.min(500, OBJECTS - i) }, (_, k) => col.insert(copyOf({ ...fresh, version: 0, created_at: '', updated_at: '' }, nameOf(i + k)) as never)));
      }
    }
  } finally {
    await store.close();
  }
}

async function fillMongo(url: string): Promise<void> {
  const client = new MongoClient(url);
  await client.connect();
  try {
    for (const { collection } of KINDS) {
      const col = client.db().collection<Document>(collection);
      const real = await col.findOne({ user: 'bench' });
      if (!real) throw new Error(`no ${collection} to copy`);
      for (let i = 1; i < OBJECTS; i += 1000) {
        await col.insertMany(Array.from({ length: Math.min(1000, OBJECTS - i) }, (_, k) => copyOf(real as unknown as Doc & { name: string }, nameOf(i + k)) as unknown as Document));
      }
    }
  } finally {
    await client.close();
  }
}

/** What the server says of the page query (user, in creation order): the plan's stages, honestly. */
async function explainPage(url: string): Promise<string> {
  const client = new MongoClient(url);
  await client.connect();
  try {
    const plan = await client.db().collection('dataset').find({ user: 'bench' }).sort({ created_at: 1, _id: 1 }).limit(101).explain();
    const text = JSON.stringify(plan);
    const stages = [...new Set([...text.matchAll(/"stage":"([A-Z_]+)"/g)].map((m) => m[1]))];
    const index = /"indexName":"([^"]+)"/.exec(text)?.[1];
    const pushdown = /"(sortingPushdown|filterPushdown|limitPushdown|pushdown)":(true|false)/g;
    const pushes = [...text.matchAll(pushdown)].map((m) => `${m[1]}=${m[2]}`);
    const server = /"version":"([^"]+)"/.exec(text)?.[1] ?? 'unknown version';
    if (index) return `the page query uses index ${index} (stages ${stages.join(', ')})`;
    if (stages.includes('COLLSCAN')) return `the page query scans the collection (COLLSCAN): no index used`;
    return `the server's explain names no index (server ${server}${pushes.length ? `; ${pushes.join(', ')}` : ''}; stages ${stages.join(', ') || 'none given'}): FerretDB 1.x reads the table and filters and sorts in memory, so a page costs in proportion to the collection`;
  } finally {
    await client.close();
  }
}
