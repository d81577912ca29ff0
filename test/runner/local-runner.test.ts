import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { call } from '../helpers/platform.js';
import { freePort, spawnTs } from '../helpers/process.js';

const MAIN = path.resolve(import.meta.dirname, '../../scripts/local/main.ts');

t.test('the local runner serves the API, prints its URL, survives a restart and stops on Ctrl-C', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-run-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const env = { MLP_ROOT: root, MLP_PORT: String(await freePort()), MLP_APP_PORT: String(await freePort()) };
  const first = spawnTs(t, MAIN, env);
  await first.waitFor(/MLP is running/);
  const url = `http://127.0.0.1:${env.MLP_PORT}`;
  t.match(first.output(), new RegExp(`gateway:\\s+${url}/`));
  t.equal((await call(url, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201);
  const token = (await call(url, 'GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const app = await call(`http://127.0.0.1:${env.MLP_APP_PORT}`, 'GET', '/alice/app/v1/models/m');
  t.equal(app.status, 403, "the app gateway answers in the contract's way");
  first.child.kill('SIGINT');
  t.equal((await first.exited).code, 0, 'Ctrl-C stops it cleanly');
  const { readFileSync } = await import('node:fs');
  t.match(readFileSync(path.join(root, 'log/users-create/users-create.log'), 'utf8'), /"component":"users-create".*"request_id":/, 'each function logs to MLP_ROOT/log/{function}/');
  t.match(first.output(), /stopping \(SIGINT\)/);

  const second = spawnTs(t, MAIN, env);
  await second.waitFor(/MLP is running/);
  t.equal((await call(url, 'GET', '/api/v1/auth', { token })).json, 'alice', 'users and the signing secret survive a restart');
  second.child.kill('SIGTERM');
  t.equal((await second.exited).code, 0);
});

t.test('bad configuration stops start-up with every problem named', async (t) => {
  const bad = spawnTs(t, MAIN, { MLP_PORT: 'abc', MLP_TENANT_CPU: '11', MLP_ORCHESTRATOR: 'nomad' });
  const { code } = await bad.exited;
  t.equal(code, 2);
  t.match(bad.output(), /MLP_PORT=abc: must be an integer/);
  t.match(bad.output(), /MLP_TENANT_CPU=11: must be a number from 0.1 to 10/);
  t.match(bad.output(), /MLP_ORCHESTRATOR=nomad: must be local or kubernetes/);
});

t.test('a port already in use is reported plainly', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-run-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const port = String(await freePort());
  const holder = spawnTs(t, MAIN, { MLP_ROOT: root, MLP_PORT: port, MLP_APP_PORT: String(await freePort()) });
  await holder.waitFor(/MLP is running/);
  const root2 = mkdtempSync(path.join(tmpdir(), 'mlp-run-'));
  t.teardown(() => rmSync(root2, { recursive: true, force: true }));
  const clash = spawnTs(t, MAIN, { MLP_ROOT: root2, MLP_PORT: port, MLP_APP_PORT: String(await freePort()) });
  t.equal((await clash.exited).code, 1);
  t.match(clash.output(), new RegExp(`port ${port} on 127.0.0.1 is already in use`));
  holder.child.kill('SIGTERM');
  await holder.exited;
});

const mongo = process.env.MLP_TEST_MONGO_URL;
const kafka = process.env.MLP_TEST_KAFKA_BROKERS;
t.test('with MLP_MONGO_URL and MLP_KAFKA_BROKERS the same runner uses the real servers', { skip: mongo && kafka ? false : 'real servers not configured (npm test starts them)' }, async (t) => {
  const { MongoClient } = await import('mongodb');
  const { withDatabase } = await import('../helpers/platform.js');
  const { readFileSync } = await import('node:fs');
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-run-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const db = `runner${process.pid}`;
  const env = { MLP_ROOT: root, MLP_PORT: String(await freePort()), MLP_APP_PORT: String(await freePort()), MLP_MONGO_URL: withDatabase(mongo ?? '', db), MLP_KAFKA_BROKERS: kafka ?? '' };
  const runner = spawnTs(t, MAIN, env);
  await runner.waitFor(/MLP is running/);
  const url = `http://127.0.0.1:${env.MLP_PORT}`;
  t.equal((await call(url, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201);
  t.equal((await call(url, 'GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).status, 200);
  const client = new MongoClient(withDatabase(mongo ?? '', db));
  t.teardown(() => client.close());
  const doc = await client.db().collection('user').findOne({ username: 'alice' });
  t.equal(doc?.state, 'Actived', 'the user is in MongoDB, collection user');
  t.match(readFileSync(path.join(root, 'log/platform/platform.log'), 'utf8'), /"store":"mongodb","bus":"kafka"/);
  runner.child.kill('SIGINT');
  t.equal((await runner.exited).code, 0);
});
