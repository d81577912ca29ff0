import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { Unavailable } from '../../shared/core/errors.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { openEmbeddedStore } from '../../shared/store/embedded.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import { withDatabase } from '../helpers/platform.js';
import { storeConformance } from './store-suite.js';

const log = createLogger({ component: 'test', sinks: [memorySink()] });
const dir = mkdtempSync(path.join(tmpdir(), 'mlp-store-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

t.test('embedded store', (t) => {
  storeConformance(t, { spec: { adapter: 'embedded', dir: path.join(dir, 'conformance') }, shared: false });
  t.end();
});

const mongoUrl = process.env.MLP_TEST_MONGO_URL;
t.test('mongodb store (FerretDB)', { skip: mongoUrl ? false : 'MLP_TEST_MONGO_URL not set (npm test sets it)' }, (t) => {
  const url = withDatabase(mongoUrl ?? '', `conformance${process.pid}`);
  // FerretDB 1.24 does not make findAndModify atomic (FerretDB #3040); the adapter's leases do.
  storeConformance(t, { spec: { adapter: 'mongodb', url }, shared: true });
  t.end();
});

t.test('mongodb store: an unreachable server is a clear Unavailable fault', async (t) => {
  await t.rejects(openMongoStore({ url: 'mongodb://127.0.0.1:1/mlp', log, serverSelectionTimeoutMS: 300 }), Unavailable);
});

t.test('embedded store: a second process cannot open the same directory', async (t) => {
  const sub = path.join(dir, 'locked');
  const store = await openEmbeddedStore({ dir: sub });
  t.teardown(() => store.close());
  // Pretend another live process holds the lock: our parent (alive, not us).
  const lockFile = path.join(sub, 'LOCK');
  const original = readFileSync(lockFile, 'utf8');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(lockFile, String(process.ppid));
  await t.rejects(openEmbeddedStore({ dir: sub }), /in use by process/);
  writeFileSync(lockFile, original);
});

t.test('embedded store: a torn last line (crash mid-write) is dropped, earlier writes kept', async (t) => {
  const sub = path.join(dir, 'torn');
  const store = await openEmbeddedStore({ dir: sub });
  await store.collection('conformance').insert({ _id: 'a' });
  await store.close();
  appendFileSync(path.join(sub, 'store.jsonl'), '{"c":"conformance","id":"b","doc":{"_id":"b"');
  const reopened = await openEmbeddedStore({ dir: sub });
  t.teardown(() => reopened.close());
  t.ok(await reopened.collection('conformance').get('a'));
  t.equal(await reopened.collection('conformance').get('b'), null);
});

t.test('embedded store: every acknowledged write survives SIGKILL', async (t) => {
  const sub = path.join(dir, 'killed');
  const script = path.join(import.meta.dirname, 'fixtures', 'store-writer.ts');
  const child = spawn(process.execPath, ['--import=tsx', script, sub], { stdio: ['ignore', 'pipe', 'inherit'] });
  const acked: string[] = [];
  await new Promise<void>((resolve) => {
    child.stdout.setEncoding('utf8');
    let buffer = '';
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      acked.push(...lines.filter(Boolean));
      if (acked.length >= 300) child.kill('SIGKILL');
    });
    child.on('exit', () => resolve());
  });
  t.ok(acked.length >= 300, `the writer acknowledged ${acked.length} writes before it was killed`);
  const store = await openEmbeddedStore({ dir: sub });
  t.teardown(() => store.close());
  const missing = [];
  for (const id of acked) if (!(await store.collection('conformance').get(id))) missing.push(id);
  t.same(missing, [], 'no acknowledged write was lost');
});

t.test('embedded store: a read never answers before the write it saw is on disk', async (t) => {
  const store = await openEmbeddedStore({ dir: path.join(dir, 'settled') });
  t.teardown(() => store.close());
  const col = store.collection('conformance');
  const order: string[] = [];
  const write = col.insert({ _id: 'w' }).then(() => order.push('write synced'));
  const read = col.get('w').then((doc) => order.push(doc ? 'read saw it' : 'read missed it'));
  await Promise.all([write, read]);
  t.same(order, ['write synced', 'read saw it']);
});
