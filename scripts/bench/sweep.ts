// Sweep fairness: user B's one job waits behind a full tenant; when the job filling it ends, how
// long until B's job is admitted, with user A's 1,000-trial sweep queued there too, against the
// same wait without the sweep (same run, same machine). In-process (shared/wiring/deps.ts on the
// embedded store, the local orchestrator running the jobs), the reconcilers' passes run back to
// back as the schedule would run them (functions/sweeps-reconcile, functions/jobs-reconcile).
//   npm run bench:sweep [-- --rounds 3 --trials 1000 --quick]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { hashPassword } from '../../shared/auth/password.js';
import { loadConfig } from '../../shared/config/load.js';
import { createDeps, type Deps } from '../../shared/wiring/deps.js';
import { reconcileJobs } from '../../shared/jobs/lifecycle.js';
import { stopJob } from '../../shared/jobs/stop.js';
import { submitJob } from '../../shared/jobs/submit.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { createSweep } from '../../shared/sweeps/create.js';
import { reconcileSweeps } from '../../shared/sweeps/reconcile.js';
import { runtimes } from '../../templates/runtimes.js';
import { median, run, say, section } from './lib.js';
import { ratio } from './report.js';

const { values: args } = parseArgs({ options: { rounds: { type: 'string' }, trials: { type: 'string', default: '1000' }, quick: { type: 'boolean', default: false } } });
const ROUNDS = Number(args.rounds ?? (args.quick ? 1 : 3));
const TRIALS = Number(args.trials);

run('sweep', async () => {
  const s = section('sweep', `B's wait for admission beside a ${TRIALS}-trial sweep`);
  const without: number[] = [];
  const beside: number[] = [];
  let passes = 0;
  // Alternating, so a change of the machine's load falls on both alike.
  for (let r = 0; r < ROUNDS; r++) {
    without.push((await wait(false)).ms);
    const w = await wait(true);
    beside.push(w.ms);
    passes = Math.max(passes, w.passes);
  }
  const a = median(beside);
  const b = median(without);
  say(`B's wait with the sweep: ${a.toFixed(0)} ms; without: ${b.toFixed(0)} ms; ratio ${(a / b).toFixed(2)}x`);
  s.figure({ name: `B's wait until admitted, ${TRIALS}-trial sweep queued`, value: a, unit: 'ms', baseline: { name: 'the same wait without the sweep', value: b }, ratio: ratio(a, b, 'x') });
  s.note(
    `sweep: median of ${ROUNDS} alternating rounds each; tenant of 2 cpu filled by one job; A's sweep of ${TRIALS} trials (cpu 1, parallel 100) waits; B submits one job (cpu 1); the wait runs from the filling job's stop to B's job held, through reconciler passes back to back (at most ${passes} passes)`,
  );
  s.save();
});

/** One round on a fresh platform: the wait of B's job (and how many passes it took). */
async function wait(withSweep: boolean): Promise<{ ms: number; passes: number }> {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bench-sweep-'));
  const env = { MLP_ROOT: root, MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '10000', MLP_MAX_OBJECTS_PER_USER: '2000' };
  const deps = await createDeps(loadConfig(env), createLogger({ component: 'bench', sinks: [memorySink()] }), { runtimes });
  try {
    for (const user of ['a', 'b', 'c']) {
      await deps.users.create(user, await hashPassword('password1'));
      const home = storagePaths(root).home(user);
      mkdirSync(home, { recursive: true });
      writeFileSync(path.join(home, 'wait.mjs'), 'setInterval(() => {}, 1000)');
    }
    const spec = { entry: 'wait.mjs', cpu: 1, ram: 100 };
    await submitJob(deps, 'c', { ...spec, name: 'hog', cpu: 2 });
    if (withSweep) {
      const values = Array.from({ length: TRIALS / 10 }, (_, i) => i);
      await createSweep(deps, 'a', { ...spec, name: 'big', space: { x: values, y: Array.from({ length: 10 }, (_, i) => i) }, metric: 'accuracy', parallel: 100 });
      await reconcileSweeps(deps);
    }
    await submitJob(deps, 'b', { ...spec, name: 'one' });
    const jobs = jobsCollection(deps.store);
    const start = performance.now();
    await stopJob(deps, 'c/hog', 'stopped by user');
    let passes = 0;
    while ((await jobs.get('b/one'))?.res !== 'held') {
      passes++;
      await pass(deps);
      if (performance.now() - start > 600_000) throw new Error('B was not admitted in 10 minutes');
    }
    return { ms: performance.now() - start, passes };
  } finally {
    await deps.close();
    endRecorded(path.join(root, 'orchestrator'));
    rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

async function pass(deps: Deps): Promise<void> {
  await reconcileSweeps(deps);
  await reconcileJobs(deps);
}
