import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { isClientError } from '../../shared/core/errors.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { openEmbeddedStore } from '../../shared/store/embedded.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import { createTccClient, httpTransport } from '../../shared/tcc/client.js';
import type { TenantDoc } from '../../shared/tcc/resource-manager.js';
import { call, ownDatabase, storeBackends } from '../helpers/platform.js';
import { freePort, spawnTs, type Spawned } from '../helpers/process.js';

// The Resource-manager is SIGKILLed at random points while callers run hundreds of sequences of
// try/confirm/cancel/release through the TCC client; it is restarted each time. The callers
// keep their own ledger of what they were told they hold; after the timeout reconciler has
// run, the tenant's in-use counters must equal that ledger exactly, and the tenant's document
// must hold no request any more: a kill between a decision and its move to the archive is
// finished by the reconciler. On MongoDB a kill may also leave a document's lease behind,
// which the restarted manager must break.
const MAIN = path.resolve(import.meta.dirname, '../../scripts/local/main.ts');
const TIMEOUT_S = 3;
// Decided requests leave the tenant's document at once, so it stays small and FerretDB (whose
// reads and writes of a document slow down as it grows) runs the same sequences as the embedded store.
const RUNS: Record<string, { sequences: number; killEvery: number }> = { embedded: { sequences: 500, killEvery: 8 }, mongodb: { sequences: 500, killEvery: 8 } };

// The backends run side by side: each run mostly waits (restarts, backoff, the final timeout).
t.jobs = 2;
// ~100 s on a quiet machine; ~25 platform restarts each, which a loaded one (other test files,
// other sessions) slows past tap's 300 s default. A bound, not a speed check.
t.setTimeout(20 * 60_000);
for (const backend of storeBackends()) {
  const run = RUNS[backend.name] ?? { sequences: 500, killEvery: 8 };
  t.test(`on the ${backend.name} store: SIGKILL during ${run.sequences} TCC sequences: nothing leaked, nothing double-counted`, async (t) => crashTest(t, ownDatabase(backend.env), run));
}

async function crashTest(t: Test, storeEnv: Record<string, string>, { sequences: SEQUENCES, killEvery }: { sequences: number; killEvery: number }): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-crash-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const port = await freePort();
  const env = {
    ...storeEnv,
    MLP_ROOT: root,
    MLP_PORT: String(port),
    MLP_APP_PORT: String(await freePort()),
    MLP_TCC_TIMEOUT: String(TIMEOUT_S),
    MLP_SERVICE_TOKEN: 's'.repeat(40),
    MLP_TENANT_CPU: '10',
    MLP_TENANT_RAM: '10000',
  };
  const base = `http://127.0.0.1:${port}`;
  let rm: Spawned = spawnTs(t, MAIN, env);
  await rm.waitFor(/MLP is running/);

  let kills = 0;
  let next = 0;
  let running = true;
  // Kills are paced by progress (every killEvery to 3 × killEvery sequences, plus jitter) so
  // they land at random points of the run however fast the machine is.
  const killer = (async () => {
    while (running) {
      const due = next + killEvery + Math.floor(Math.random() * (2 * killEvery + 2));
      while (running && next < due) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.random() * 30));
      if (!running) break;
      rm.child.kill('SIGKILL');
      await rm.exited;
      kills += 1;
      rm = spawnTs(t, MAIN, env);
      await rm.waitFor(/MLP is running/, 60000);
    }
  })();

  const log = createLogger({ component: 'caller', sinks: [memorySink()] });
  const tcc = createTccClient(httpTransport(base, env.MLP_SERVICE_TOKEN), { log, attempts: 40, backoffMs: 50 });
  const ledger = { cpu: 0, ram: 0 };
  const reasons = new Map<string, number>();
  const outcomes = { held: 0, released: 0, cancelled: 0, refused: 0, ambiguous: 0 };
  const caller = async () => {
    while (next < SEQUENCES) {
      const n = next++;
      const cpu = ((n % 7) + 1) / 10;
      const ram = ((n % 5) + 1) * 10;
      try {
        // Releases keep the tenant from filling up, so most tries are decided on fit, not refused.
        if (n % 5 >= 3 && ledger.cpu >= 1000 && ledger.ram >= 50) {
          ledger.cpu -= 1000;
          ledger.ram -= 50;
          try {
            await tcc.release({ applier: 'jm', cpu: 1, ram: 50 });
          } catch (err) {
            ledger.cpu += 1000; // not released after all
            ledger.ram += 50;
            throw err;
          }
          outcomes.released += 1;
        } else if (n % 5 === 2) {
          await tcc.reserve({ applier: 'am', cpu, ram }, async () => {
            throw new Error('work failed on purpose');
          });
        } else {
          await tcc.reserve({ applier: 'jm', cpu, ram }, async () => new Promise((r) => setTimeout(r, Math.random() * 20)));
          ledger.cpu += Math.round(cpu * 1000);
          ledger.ram += ram;
          outcomes.held += 1;
        }
      } catch (err) {
        if ((err as Error).message === 'work failed on purpose') outcomes.cancelled += 1;
        else if (isClientError(err)) {
          outcomes.refused += 1; // refused or timed out: nothing held
          reasons.set((err as Error).message.replace(/[0-9a-f-]{36}|[\d.]+/g, '#'), (reasons.get((err as Error).message.replace(/[0-9a-f-]{36}|[\d.]+/g, '#')) ?? 0) + 1);
        } else outcomes.ambiguous += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, caller));
  running = false;
  await killer;
  await rm.waitFor(/MLP is running/, 60000);

  t.ok(kills >= 15, `the Resource-manager was killed ${kills} times`);
  t.equal(outcomes.ambiguous, 0, 'every sequence got a definite answer');
  t.ok(outcomes.held > SEQUENCES / 5, `outcomes: ${JSON.stringify(outcomes)}; refusals: ${JSON.stringify([...reasons])}`);

  // Let every unconfirmed try expire, then run the reconciler.
  await new Promise((r) => setTimeout(r, (TIMEOUT_S + 1) * 1000));
  const rec = await call(base, 'POST', '/api/v1/reconcile/resources', { token: env.MLP_SERVICE_TOKEN });
  t.equal(rec.status, 200);
  await call(base, 'POST', '/api/v1/users', { body: { username: 'auditor', password: 'password1' } });
  const token = (await call(base, 'GET', '/api/v1/users/auditor/token', { basic: ['auditor', 'password1'] })).json as string;
  const tenant = (await call(base, 'GET', '/api/v1/tenants/default', { token })).json as { cpu_inuse: number; ram_inuse: number };
  t.equal(Math.round(tenant.cpu_inuse * 1000), ledger.cpu, `cpu in use ${tenant.cpu_inuse} equals the callers' ledger`);
  t.equal(tenant.ram_inuse, ledger.ram, `ram in use ${tenant.ram_inuse} equals the callers' ledger`);
  rm.child.kill('SIGTERM');
  await rm.exited;

  const log2 = createLogger({ component: 'auditor', sinks: [memorySink()] });
  const store = storeEnv.MLP_MONGO_URL ? await openMongoStore({ url: storeEnv.MLP_MONGO_URL, log: log2 }) : await openEmbeddedStore({ dir: path.join(root, 'store') });
  try {
    const doc = await store.collection<TenantDoc>('tenant').get('default');
    t.same(doc?.requests, {}, 'every decided request left the tenant document for the archive');
  } finally {
    await store.close();
  }
}
