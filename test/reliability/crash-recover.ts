import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { appMachine } from '../../shared/apps/lifecycle.js';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import type { AppDoc } from '../../shared/records/apps.js';
import type { JobDoc } from '../../shared/records/jobs.js';
import { modelMachine, type ModelDoc } from '../../shared/records/models.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { openEmbeddedStore } from '../../shared/store/embedded.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import type { Store } from '../../shared/store/port.js';
import { add, toExact, ZERO, type Amounts } from '../../shared/tcc/amounts.js';
import { entryMachine, type Entry } from '../../shared/tcc/ledger.js';
import type { ArchivedRequest, TenantDoc } from '../../shared/tcc/resource-manager.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { callThrough, seeded, sleep, testSeed } from '../helpers/chaos.js';
import { ckptOf, closeTo, predictLocally, ROWS, SERVER_CPU, SERVER_RAM, tinyModel } from '../helpers/models.js';
import { startPlatformProcess, type PlatformProcess } from '../helpers/platform-process.js';
import { until as poll } from '../helpers/poll.js';
import { freePort } from '../helpers/process.js';
import { pool } from './helpers.js';

// Crash and recover: job and app lifecycles (create → run → delete) while the
// platform's process is killed (SIGKILL) at random moments and started again on the same
// MLP_ROOT. Afterwards every object is in a state its state machine allows, every app kept
// serves, and the tenant's *_inuse is exactly what live objects hold: nothing leaked, nothing
// released twice. MLP_TEST_SEED=<n> replays the kill moments of a run (printed below).

/** Apps not deleted, to check that what should serve serves after the crashes. */
const KEEP = 3;
const JOB_STATES = ['creating', 'running', 'finished', 'error', 'deleting'];

export async function crashAndRecover(t: Test, backendEnv: Record<string, string>, counts: { jobs: number; apps: number }): Promise<void> {
  const { jobs: JOBS, apps: APPS } = counts;
  const seed = testSeed();
  t.comment(`seed ${seed} (MLP_TEST_SEED=${seed} replays the kill moments)`);
  const rand = seeded(seed);
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-crash-'));
  const env = {
    ...backendEnv,
    MLP_ROOT: root,
    MLP_PORT: String(await freePort()),
    MLP_APP_PORT: String(await freePort()),
    MLP_TENANT_CPU: '10',
    MLP_TENANT_RAM: '10000',
    // A try cut short by a crash is settled after this long (the documented setting; default 60 s).
    MLP_TCC_TIMEOUT: '5',
    MLP_LOG_LEVEL: 'warn',
  };
  let p: PlatformProcess = await startPlatformProcess(t, env);
  t.teardown(async () => {
    await p.kill('SIGKILL');
    endRecorded(path.join(root, 'orchestrator'));
    rmSync(root, { recursive: true, force: true });
  });
  const base = p.url;
  const appBase = `http://127.0.0.1:${env.MLP_APP_PORT}`;
  // Once something failed, every worker stops at its next step (else they would wait out the teardown's kill).
  let aborted = false;
  const api = (method: string, urlPath: string, opts: Parameters<typeof callThrough>[3] = {}) => {
    if (aborted) throw new Error('aborted: another lifecycle failed');
    return callThrough(base, method, urlPath, opts);
  };
  /** An object name (docs/api.md#conventions: letters only) for a number. */
  const letters = (n: number): string => String.fromCharCode(97 + (n % 26)) + (n >= 26 ? letters(Math.floor(n / 26) - 1) : '');
  const service = readFileSync(path.join(root, 'secrets', 'service-token'), 'utf8').trim();
  const tokenOf = async (user: string) => {
    await api('POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
    return (await api('GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] })).json as string;
  };
  const alice = await tokenOf('alice');
  const bob = await tokenOf('bob');
  for (const user of ['alice', 'bob']) {
    const home = storagePaths(root).home(user);
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(home, 'done.mjs'), 'console.log("done")');
    writeFileSync(path.join(home, 'short.mjs'), 'console.log("start"); await new Promise((r) => setTimeout(r, 300 + Math.random() * 700)); console.log("end");');
  }
  // The platform reconciles on its own schedule; this only makes it quicker.
  let stopPoking = false;
  const poking = (async () => {
    while (!stopPoking) {
      for (const what of ['jobs', 'apps', 'models']) await callThrough(base, 'POST', `/api/v1/reconcile/${what}`, { token: service }).catch(() => undefined);
      await sleep(300);
    }
  })();
  const until = <T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, tries = 1200): Promise<T> =>
    poll(read, done, what, {
      tries,
      ms: 150,
      before: () => {
        if (aborted) throw new Error(`aborted while waiting for ${what}`);
      },
    });
  const created = (what: string, a: { status: number; text: string; retried: boolean }) => {
    // A create whose answer the crash swallowed is found done when retried.
    if (a.status === 201 || (a.retried && a.status === 403 && /already exists/.test(a.text))) return;
    throw new Error(`${what}: ${a.status} ${a.text}`);
  };
  const deleted = async (what: string, urlPath: string, token: string) => {
    const d = await api('DELETE', urlPath, { token });
    if (!(d.status === 200 || (d.retried && d.status === 403 && /not found/.test(d.text)))) throw new Error(`deleting ${what}: ${d.status} ${d.text}`);
    await until(
      `${what} gone`,
      async () => (await api('GET', urlPath, { token })).status,
      (s) => s === 403,
    );
  };

  // bob's model, from a job's checkpoint (as a training script would leave it).
  created('job train', await api('POST', '/api/v1/users/bob/jobs', { token: bob, body: { name: 'train', entry: 'done.mjs', cpu: 0.1, ram: 100 } }));
  await until(
    'train ends',
    async () => ((await api('GET', '/api/v1/users/bob/jobs/train', { token: bob })).json as { state: string }).state,
    (s) => s === 'finished',
  );
  const model = await tinyModel(ckptOf({ root } as Parameters<typeof ckptOf>[0], 'bob', 'train'));
  const expected = predictLocally(model, ROWS);
  created('model iris', await api('POST', '/api/v1/users/bob/models', { token: bob, body: { name: 'iris', src: 'train' } }));
  await until(
    'iris ready',
    async () => ((await api('GET', '/api/v1/users/bob/models/iris', { token: bob })).json as { state: string }).state,
    (s) => s === 'ready',
  );

  const outcomes: Record<string, number> = {};
  const count = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);
  const jobLifecycle = async (i: number) => {
    const name = `j${letters(i)}`;
    const url = `/api/v1/users/alice/jobs/${name}`;
    created(`job ${name}`, await api('POST', '/api/v1/users/alice/jobs', { token: alice, body: { name, entry: i % 2 ? 'short.mjs' : 'done.mjs', cpu: 0.1, ram: 100 } }));
    const job = await until(
      `${name} ends`,
      async () => (await api('GET', url, { token: alice })).json as { state: string; msg?: string },
      (j) => j.state === 'finished' || j.state === 'error',
    );
    count(`job ${job.state}${job.msg ? `: ${job.msg}` : ''}`);
    await deleted(`job ${name}`, url, alice);
  };
  const predict = (name: string) => callThrough(appBase, 'POST', `/bob/${name}/v1/models/iris:predict`, { token: bob, body: { instances: ROWS } });
  const appLifecycle = async (i: number) => {
    const name = `a${letters(i)}`;
    const url = `/api/v1/users/bob/apps/${name}`;
    const keep = i >= APPS - KEEP;
    // An app in error is deleted and created again, as its msg says to (a kept app must end serving).
    for (let attempt = 1; ; attempt++) {
      created(`app ${name}`, await api('POST', '/api/v1/users/bob/apps', { token: bob, body: { name, model_name: 'iris', cpu: SERVER_CPU, ram: SERVER_RAM } }));
      const app = await until(
        `${name} settles`,
        async () => (await api('GET', url, { token: bob })).json as { state: string; msg?: string },
        (a) => a.state === 'ready' || a.state === 'error',
      );
      count(`app ${app.state}${app.msg ? `: ${app.msg.replace(/\d{4,5}/g, 'N')}` : ''}`);
      if (keep && app.state === 'ready') return;
      await deleted(`app ${name}`, url, bob);
      if (!keep || attempt >= 3) return;
    }
  };

  // The chaos: SIGKILL at a random moment, start again at once, until every lifecycle is done.
  let done = false;
  let kills = 0;
  const chaos = (async () => {
    while (!done) {
      const wait = 3000 + rand() * 7000;
      for (let waited = 0; waited < wait && !done; waited += 100) await sleep(100);
      if (done) return;
      await p.kill('SIGKILL');
      kills += 1;
      p = await startPlatformProcess(t, env);
    }
  })();
  try {
    await Promise.all([
      pool(
        Array.from({ length: JOBS }, (_, i) => i),
        6,
        jobLifecycle,
      ),
      pool(
        Array.from({ length: APPS }, (_, i) => i),
        3,
        appLifecycle,
      ),
    ]);
  } catch (err) {
    aborted = true;
    throw err;
  } finally {
    done = true;
    stopPoking = true;
    await chaos;
  }
  t.comment(`${kills} kills; outcomes: ${JSON.stringify(outcomes)}`);
  t.ok(kills >= 3, `the platform was killed during the lifecycles (${kills} times)`);
  t.equal(outcomes['job finished'], JOBS, 'every job finished despite the crashes (and says nothing stale)');

  // What should serve serves.
  for (let i = APPS - KEEP; i < APPS; i++) {
    const name = `a${letters(i)}`;
    const a = await until(
      `${name} ready`,
      async () => (await api('GET', `/api/v1/users/bob/apps/${name}`, { token: bob })).json as { state: string },
      (x) => x.state === 'ready',
    );
    t.equal(a.state, 'ready');
    const answer = await until(
      `${name} predicts`,
      () => predict(name),
      (r) => r.status === 200,
    );
    t.ok(closeTo((answer.json as { predictions: number[][] }).predictions, expected), `${name} predicts the model's own answers`);
  }
  t.same((await api('GET', '/api/v1/users/alice/jobs', { token: alice })).json, [], 'no job is left');
  t.equal(((await api('GET', '/api/v1/users/bob/apps', { token: bob })).json as unknown[]).length, KEEP, 'only the kept apps are left');
  stopPoking = true;
  await poking;
  await p.kill('SIGTERM');
  // A graceful stop ends the apps' servers; no job runs: nothing of this platform may be left running.
  t.same(workloadsOf(root), [], 'no workload process of this platform is left (none leaked through the crashes)');

  // The store as the platform left it.
  const store = await openStore(root, backendEnv);
  t.teardown(() => store.close());
  const jobs = (await store.collection('job').find()) as unknown as JobDoc[];
  const apps = (await store.collection('app_group').find()) as unknown as AppDoc[];
  const models = (await store.collection('model').find()) as unknown as ModelDoc[];
  for (const j of jobs) t.ok(JOB_STATES.includes(j.state), `job ${j.name}: ${j.state} is a job state`);
  for (const a of apps) t.ok(a.state in appMachine.table, `app ${a.name}: ${a.state} is an app state`);
  for (const m of models) t.ok(m.state in modelMachine.table, `model ${m.name}: ${m.state} is a model state`);
  const tenant = (await store.collection('tenant').find({ _id: 'default' }))[0] as unknown as TenantDoc;
  let held: Amounts = ZERO;
  for (const j of jobs) if (j.res === 'held') held = add(held, toExact({ cpu: j.cpu, gpu: j.gpu, ram: j.ram }));
  for (const a of apps) if (a.res === 'held') held = add(held, toExact({ cpu: a.cpu, gpu: a.gpu, ram: a.ram }));
  for (const m of models) if (m.res === 'held') held = add(held, toExact({ rom: m.size }));
  t.same(tenant.inuse, held, 'the tenant holds exactly what live objects hold');
  const open = Object.entries(tenant.requests).filter(([, e]) => !(e.state === 'confirmed' || e.state === 'cancelled'));
  t.same(open, [], 'no request is left undecided');
  const archive = (await store.collection('resource_request').find()) as unknown as ArchivedRequest[];
  for (const r of archive) t.ok(r.entry.state in entryMachine.table, `request ${r.id}: ${r.entry.state} is a request state`);
  // Release ids are <applier>-rel-<uid>-<attempt>: one object, at most one confirmed release.
  // A decided request may not have left the ledger for the archive yet (a crash in between): both count, once.
  const decided = new Map<string, Entry>([...Object.entries(tenant.requests), ...archive.map((r): [string, Entry] => [r.id, r.entry])]);
  const releases = new Map<string, string[]>();
  for (const [id, e] of decided) {
    if (e.type !== 'release' || e.state !== 'confirmed') continue;
    const object = id.replace(/-\d+$/, '');
    releases.set(object, [...(releases.get(object) ?? []), id]);
  }
  const twice = [...releases.entries()].filter(([, ids]) => ids.length > 1);
  t.same(twice, [], 'nothing was released twice');
  // Each object confirms one try when it first holds; every one that no longer holds gave back once.
  const holding = jobs.filter((j) => j.res === 'held').length + apps.filter((a) => a.res === 'held').length + models.filter((m) => m.res === 'held').length;
  const tries = [...decided.values()].filter((e) => e.type === 'request' && e.state === 'confirmed').length;
  t.equal(releases.size + holding, tries, `every object that held and is gone gave back once (${releases.size} releases, ${holding} holding, ${tries} confirmed tries)`);
}

/** Live processes that run a workload (their wrapper names its exit file under MLP_ROOT/orchestrator). */
function workloadsOf(root: string): string[] {
  const marker = `${path.join(root, 'orchestrator')}/`;
  return readdirSync('/proc').flatMap((d) => {
    if (!/^\d+$/.test(d)) return [];
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const alive = !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, 'utf8'));
      return alive && cmd.some((a) => a.startsWith(marker)) ? [`${d} ${cmd.slice(-8).join(' ')}`] : [];
    } catch {
      return [];
    }
  });
}

/** The platform's store, opened by the test once the platform has stopped. */
function openStore(root: string, env: Record<string, string>): Promise<Store> {
  const log = createLogger({ component: 'test', sinks: [memorySink()] });
  return env.MLP_MONGO_URL ? openMongoStore({ url: env.MLP_MONGO_URL, log, lease: { ttlMs: 5000, waitMs: 50000 } }) : openEmbeddedStore({ dir: path.join(root, 'store') });
}
