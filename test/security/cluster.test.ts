import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createTokenService } from '../../shared/auth/tokens.js';
import { loadConfig } from '../../shared/config/load.js';
import { ConfigError } from '../../shared/core/errors.js';
import { toEndpoint } from '../../shared/http/adapter.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { loadFunction, loadFunctions } from '../../shared/routes/registry.js';
import { usersRepo } from '../../shared/records/users.js';
import { defineRoute } from '../../shared/routes/route.js';
import { loadFunctionSecrets, secretsOf, withFunctionSecrets } from '../../shared/config/secrets.js';
import { openEmbeddedStore } from '../../shared/store/embedded.js';
import { exclusiveTrigger, takeLease, type LeaseDoc } from '../../shared/store/lease.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import type { Collection, CollectionName, Doc, Store } from '../../shared/store/port.js';
import { testDeps } from '../helpers/deps.js';
import { call, withDatabase } from '../helpers/platform.js';
import { freePort, spawnTs, type Spawned } from '../helpers/process.js';

// Cluster deployment, as it once was: every function received every secret, a function process
// read and even created the secrets on MLP_ROOT (the volume all functions share), and a
// reconciler triggered twice ran two passes over each other. Seen failing on b32fc75: the
// users-create process created MLP_ROOT/secrets/ (the other cases use what this change adds:
// per-function secrets and the lease). Visibility and the secrets of the generated manifests:
// test/generated/manifests.test.ts; the access log: test/gateway/nginx.test.ts.

const TEMPLATE = path.resolve(import.meta.dirname, '../../templates/mlp-node20/index.ts');
const KEY = 'k'.repeat(40);
const SERVICE = 's'.repeat(40);
const log = createLogger({ component: 'test', sinks: [memorySink()] });
const mongo = process.env.MLP_TEST_MONGO_URL;

function tempDir(t: Test, prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** One function as OpenFaaS or Knative runs it, with only the environment given here (no secrets inherited). */
async function startFunction(t: Test, name: string, env: Record<string, string>): Promise<{ proc: Spawned; url: string }> {
  const port = await freePort();
  const clean = { MLP_SECRET: '', MLP_SERVICE_TOKEN: '', MLP_MONGO_URL: '', MLP_KAFKA_BROKERS: '' };
  const proc = spawnTs(t, TEMPLATE, { ...clean, MLP_FUNCTION: name, PORT: String(port), MLP_LISTEN_HOST: '127.0.0.1', ...env });
  return { proc, url: `http://127.0.0.1:${port}` };
}

t.test('each function needs exactly the secrets its handler uses', async (t) => {
  const routes = Object.fromEntries((await loadFunctions()).map((f) => [f.route.name, f.route]));
  const needs = (name: string) => {
    const route = routes[name];
    if (!route) throw new Error(`no function ${name}`);
    return secretsOf(route);
  };
  t.same(needs('users-create'), [], 'registering checks no token');
  t.same(needs('web-index'), []);
  t.same(needs('users-auth'), ['signing-key'], "the gateway's token check verifies tokens itself");
  t.same(needs('users-token'), ['signing-key'], 'login signs tokens');
  t.same(needs('users-get'), ['signing-key']);
  t.same(needs('metrics-socket'), ['signing-key'], "the WebSocket checks the owner's token");
  t.same(needs('jobs-create'), ['signing-key'], 'it verifies the owner and signs the job token of a job it starts');
  t.same(needs('jobs-reconcile'), ['signing-key', 'service-token'], 'admitting a queued job signs its job token; the trigger uses the service token');
  t.same(needs('resources-try'), ['service-token'], 'internal routes check the service token only');
  t.same(needs('datasets-reconcile'), ['service-token']);
  t.same(needs('apps-watch'), ['service-token']);
});

t.test('a function process reads its secrets from its environment or OpenFaaS secret files, only those it needs', async (t) => {
  const dir = tempDir(t, 'mlp-openfaas-secrets-');
  const auth = (await loadFunction('users-auth')).route;
  const create = (await loadFunction('users-create')).route;
  const reconcile = (await loadFunction('jobs-reconcile')).route;

  await t.rejects(loadFunctionSecrets(auth, {}, dir), ConfigError, 'a needed secret that is missing stops start-up');
  await t.rejects(loadFunctionSecrets(auth, {}, dir), /users-auth needs the token signing key: set MLP_SECRET .*mlp-secret/);
  writeFileSync(path.join(dir, 'mlp-secret'), `${KEY}\n`);
  t.same(await loadFunctionSecrets(auth, {}, dir), { 'signing-key': KEY }, 'the OpenFaaS secret file, when the variable is absent');
  t.same(await loadFunctionSecrets(auth, { MLP_SECRET: 'e'.repeat(40) }, dir), { 'signing-key': 'e'.repeat(40) }, 'the variable first');
  await t.rejects(loadFunctionSecrets(auth, { MLP_SECRET: 'short' }, dir), /at least 32 characters/);
  writeFileSync(path.join(dir, 'mlp-service-token'), SERVICE);
  t.same(await loadFunctionSecrets(create, { MLP_SECRET: KEY, MLP_SERVICE_TOKEN: SERVICE }, dir), {}, 'a secret it does not need is not taken, even when offered');
  t.same(await loadFunctionSecrets(reconcile, {}, dir), { 'signing-key': KEY, 'service-token': SERVICE });

  const config = withFunctionSecrets(loadConfig({ MLP_ROOT: dir, MLP_SECRET: KEY, MLP_SERVICE_TOKEN: SERVICE }), {});
  t.not(config.secret, KEY, 'absent: not the value of the environment');
  t.not(config.serviceToken, SERVICE);
  t.not(withFunctionSecrets(config, {}).serviceToken, config.serviceToken, 'a fresh random value in each process, never stored');
});

t.test('a function not given a secret neither reads nor creates it on the shared volume', async (t) => {
  const root = tempDir(t, 'mlp-cluster-root-');
  const empty = tempDir(t, 'mlp-no-secrets-');

  const create = await startFunction(t, 'users-create', { MLP_ROOT: root, MLP_SECRETS_DIR: empty });
  await create.proc.waitFor(/function listening/);
  t.equal((await call(create.url, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201, 'users-create needs no secret');
  create.proc.child.kill('SIGTERM');
  t.equal((await create.proc.exited).code, 0);
  t.notOk(existsSync(path.join(root, 'secrets')), 'no MLP_ROOT/secrets/ was created');

  // What npm start keeps there, as a function must never use it.
  mkdirSync(path.join(root, 'secrets'), { mode: 0o700 });
  writeFileSync(path.join(root, 'secrets', 'secret'), `${KEY}\n`, { mode: 0o600 });
  const auth = await startFunction(t, 'users-auth', { MLP_ROOT: root, MLP_SECRETS_DIR: empty });
  const { code } = await auth.proc.exited;
  t.equal(code, 1, 'users-auth without its key does not start');
  t.match(auth.proc.output(), /users-auth needs the token signing key: set MLP_SECRET/, 'and says which secret and where it comes from');
});

t.test('the signing key from an OpenFaaS secret file verifies tokens; the service token from the environment opens internal routes', async (t) => {
  const root = tempDir(t, 'mlp-cluster-root-');
  const secrets = tempDir(t, 'mlp-openfaas-secrets-');
  writeFileSync(path.join(secrets, 'mlp-secret'), `${KEY}\n`);
  const store = await openEmbeddedStore({ dir: path.join(root, 'store') });
  await usersRepo(store).create('alice', 'not-a-hash');
  await store.close();

  const auth = await startFunction(t, 'users-auth', { MLP_ROOT: root, MLP_SECRETS_DIR: secrets });
  await auth.proc.waitFor(/function listening/);
  const good = (await createTokenService({ secret: KEY, ttlSeconds: 60 }).issue({ sub: 'alice', kind: 'user' })).token;
  const forged = (await createTokenService({ secret: 'f'.repeat(40), ttlSeconds: 60 }).issue({ sub: 'alice', kind: 'user' })).token;
  const ok = await call(auth.url, 'GET', '/api/v1/auth', { token: good });
  t.equal(ok.status, 200);
  t.equal(ok.json, 'alice');
  t.equal((await call(auth.url, 'GET', '/api/v1/auth', { token: forged })).status, 403, 'a token signed with another key is refused');
  auth.proc.child.kill('SIGTERM');
  await auth.proc.exited;

  const noToken = await startFunction(t, 'resources-try', { MLP_ROOT: root, MLP_SECRETS_DIR: secrets });
  t.equal((await noToken.proc.exited).code, 1);
  t.match(noToken.proc.output(), /resources-try needs the service token: set MLP_SERVICE_TOKEN/);
  const tcc = await startFunction(t, 'resources-try', { MLP_ROOT: root, MLP_SECRETS_DIR: secrets, MLP_SERVICE_TOKEN: SERVICE });
  await tcc.proc.waitFor(/function listening/);
  const tried = await call(tcc.url, 'PUT', '/api/v1/resource_request:try', { token: SERVICE, body: { id: 'r1', applier: 'jm', request_type: 'request', cpu: 1 } });
  t.equal(tried.status, 200, `the service token opens it (${tried.text})`);
  t.equal((await call(tcc.url, 'PUT', '/api/v1/resource_request:try', { token: good, body: { id: 'r2', applier: 'jm', request_type: 'request', cpu: 1 } })).status, 403, 'a user token does not');
});

// ----------------------------------------------------------- the reconcilers' lease

/** A store per "process": the embedded one in-process, or separate clients of one MongoDB-wire database. */
async function storesFor(t: Test, backend: 'embedded' | 'mongodb', count: number): Promise<Store[]> {
  if (backend === 'embedded') {
    const store = await openEmbeddedStore({ dir: path.join(tempDir(t, 'mlp-lease-'), 'store') });
    t.teardown(() => store.close());
    return Array.from({ length: count }, () => store);
  }
  const url = withDatabase(mongo ?? '', `lease${process.pid}x${Date.now().toString(36)}`);
  const stores = await Promise.all(Array.from({ length: count }, () => openMongoStore({ url, log })));
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  return stores;
}

/** A collection whose first find still sees lease link #0, released: a taker that read long ago. */
function staleOnce<T extends Doc>(col: Collection<T>): Collection<T> {
  let first = true;
  const old = { _id: 'stale#0', name: 'stale', n: 0, holder: 'gone', expires_at: new Date(0).toISOString(), released: true, version: 2, created_at: '', updated_at: '' };
  return {
    ...col,
    find: async (filter, opts) => {
      if (!first) return col.find(filter, opts);
      first = false;
      return [old as unknown as T];
    },
  };
}

for (const backend of ['embedded', 'mongodb'] as const) {
  const skip = backend === 'mongodb' && !mongo ? 'MLP_TEST_MONGO_URL not set (npm test starts FerretDB)' : false;
  t.test(`lease on the ${backend} store`, { skip }, async (t) => {
    t.test('of many takers at once exactly one wins, whatever store client each uses', async (t) => {
      const stores = await storesFor(t, backend, 8);
      for (let round = 0; round < 5; round++) {
        const tries = await Promise.all(Array.from({ length: 16 }, (_, i) => takeLease('race', { store: stores[i % stores.length] as Store, now: () => new Date(), log })));
        const winners = tries.filter((x) => x.taken);
        t.equal(winners.length, 1, `round ${round}: one holder`);
        for (const w of winners) if (w.taken) await w.release();
      }
      const links = await (stores[0] as Store).collection<LeaseDoc>('lease' as CollectionName).find({ name: 'race' });
      t.equal(links.length, 1, 'older links are removed: one document per lease');
    });

    t.test('a released or expired lease is taken again; a renewed one is not', async (t) => {
      const [store] = await storesFor(t, backend, 1);
      let clock = Date.parse('2030-01-01T00:00:00Z');
      const opts = { store: store as Store, now: () => new Date(clock), log, ttlMs: 30 };
      const first = await takeLease('expiry', opts);
      t.ok(first.taken);
      const busy = await takeLease('expiry', opts);
      t.notOk(busy.taken, 'held');
      // The holder renews on a real timer; the store's clock here is the test's.
      clock += 1000;
      const col = (store as Store).collection<LeaseDoc>('lease' as CollectionName);
      while (!(await col.find({ name: 'expiry' })).some((l) => Date.parse(l.expires_at) > clock)) await new Promise((r) => setTimeout(r, 5));
      t.notOk((await takeLease('expiry', opts)).taken, 'a holder still running keeps it by renewing');
      if (first.taken) await first.release();
      const again = await takeLease('expiry', opts);
      t.ok(again.taken, 'released: taken again');

      // A holder that died: nothing renews, so after the ttl the lease is free.
      const dead = { ...opts, ttlMs: 600_000 };
      if (again.taken) await again.release();
      const crashed = await takeLease('crash', dead);
      t.ok(crashed.taken);
      t.notOk((await takeLease('crash', dead)).taken);
      clock += 601_000;
      const after = await takeLease('crash', dead);
      t.ok(after.taken, 'an expired lease is taken over');
      if (crashed.taken) await crashed.release(); // the late holder's release does not free the new one
      t.notOk((await takeLease('crash', dead)).taken, 'the new holder still has it');
      if (after.taken) await after.release();
    });

    t.test('a taker that read an old link and re-inserts a removed one backs off', async (t) => {
      const [store] = await storesFor(t, backend, 1);
      const opts = { store: store as Store, now: () => new Date(), log };
      for (let i = 0; i < 3; i++) {
        const l = await takeLease('stale', opts);
        if (l.taken) await l.release();
      }
      const holder = await takeLease('stale', opts); // link #3, live
      t.ok(holder.taken);
      // The slow taker still sees link #0 (released): it inserts #1, which had been removed.
      const stale: Store = { ...(store as Store), collection: <T extends Doc>(name: CollectionName) => staleOnce((store as Store).collection<T>(name)) };
      const late = await takeLease('stale', { ...opts, store: stale });
      t.notOk(late.taken, 'it finds the newer link and does not run');
      const links = await (store as Store).collection<LeaseDoc>('lease' as CollectionName).find({ name: 'stale' });
      t.same(
        links.map((l) => l.n),
        [3],
        "its own link is gone; the holder's is intact",
      );
      if (holder.taken) await holder.release();
    });

    t.test('two triggers of a scheduled function through the template adapter: one pass, one skip', async (t) => {
      const stores = await storesFor(t, backend, 2);
      const route = defineRoute({
        name: 'test-reconcile',
        method: 'POST',
        path: '/api/v1/reconcile/test',
        auth: 'service',
        internal: true,
        schedule: { everySeconds: 1, cron: '* * * * *' },
        description: 'a slow pass',
      });
      let passes = 0;
      let running = 0;
      let overlapped = false;
      let finish!: () => void;
      const gate = new Promise<void>((resolve) => (finish = resolve));
      let entered!: () => void;
      const inPass = new Promise<void>((resolve) => (entered = resolve));
      const handle = async () => {
        passes++;
        running++;
        if (running > 1) overlapped = true;
        entered();
        await gate;
        running--;
        return { passed: passes };
      };
      // Two "replicas": their own deps and, on MongoDB, their own database clients.
      const replicas = await Promise.all(stores.map((store) => testDeps(t, { MLP_SERVICE_TOKEN: SERVICE }, { store })));
      const triggers = replicas.map((deps) => exclusiveTrigger(route.name, toEndpoint({ route, handle }, deps), { store: deps.store, now: deps.now, log: deps.log }));
      const fire = async (i: number) => {
        const answer = await (triggers[i] as (typeof triggers)[number])({ body: Buffer.alloc(0), headers: { authorization: `Bearer ${SERVICE}` }, method: 'POST', query: {}, path: route.path });
        return { status: answer.status, body: JSON.parse(String(answer.body)) as Record<string, unknown> };
      };
      const first = fire(0);
      await inPass;
      const second = await fire(1);
      t.equal(second.status, 200, 'the second trigger answers 200');
      t.match(second.body, { skipped: /another pass of test-reconcile is running/ }, 'saying it skipped');
      finish();
      t.same((await first).body, { passed: 1 });
      t.same((await fire(1)).body, { passed: 2 }, 'once the pass ended, the next trigger runs');
      t.equal(passes, 2);
      t.notOk(overlapped, 'no two passes ran at once');
    });
  });
}

t.test("two template processes of one reconciler on one database respect each other's lease", { skip: mongo ? false : 'MLP_TEST_MONGO_URL not set (npm test starts FerretDB)' }, async (t) => {
  const root = tempDir(t, 'mlp-cluster-root-');
  const url = withDatabase(mongo ?? '', `leaseproc${process.pid}`);
  const env = { MLP_ROOT: root, MLP_MONGO_URL: url, MLP_SERVICE_TOKEN: SERVICE, MLP_SECRETS_DIR: root };
  const replicas = [await startFunction(t, 'datasets-reconcile', env), await startFunction(t, 'datasets-reconcile', env)];
  await Promise.all(replicas.map((r) => r.proc.waitFor(/function listening/)));

  // A pass in a third process holds the lease: both replicas' cron triggers skip.
  const store = await openMongoStore({ url, log });
  t.teardown(() => store.close());
  const held = await takeLease('reconcile:datasets-reconcile', { store, now: () => new Date(), log });
  t.ok(held.taken);
  for (const r of replicas) {
    const answer = await call(r.url, 'POST', '/', { body: {} });
    t.equal(answer.status, 200);
    t.match(answer.json, { skipped: /another pass of datasets-reconcile is running/ });
    t.match((await call(r.url, 'POST', '/api/v1/reconcile/datasets', { token: SERVICE })).json, { skipped: String }, 'the route itself too');
  }
  if (held.taken) await held.release();
  const ran = await call((replicas[0] as { url: string }).url, 'POST', '/', { body: {} });
  t.match(ran.json, { deleted: [], settled: [], stale: [] }, 'released: the trigger runs a pass');
});
