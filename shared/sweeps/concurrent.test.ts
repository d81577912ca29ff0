import t from 'tap';
import { handle as createSweepFn } from '../../functions/sweeps-create/handler.js';
import sweepsCreate from '../../functions/sweeps-create/route.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { homeScript } from '../../test/helpers/jobs.js';
import { userWithToken } from '../../test/helpers/users.js';
import { jobsCollection } from '../records/jobs.js';
import { sweepsCollection } from '../records/sweeps.js';
import { reconcileSweeps } from './reconcile.js';

// docs/api.md#experiments: two passes of the sweep reconciler at once (the schedule's and another
// caller's) used to mark a trial failed when the other pass had just created its job: the loser
// of the create saved first, the trial was taken as ended, its job ran unseen and one more trial
// started beside it (test/contract/scenarios/sweeps.ts saw 3 trials at once with parallel 2).
t.test('a pass that finds its trial created by another pass takes it as started', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '10' });
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'wait.mjs', 'setInterval(() => {}, 1000)');
  const body = { name: 'x', entry: 'wait.mjs', space: { q: [1] }, metric: 'accuracy', parallel: 1, cpu: 0.1, ram: 100 };
  t.equal((await invoke(sweepsCreate, createSweepFn, deps, { path: '/api/v1/users/alice/sweeps', headers, body })).status, 201);
  // Pass A stops before creating trial xa (its tenant read) until pass B has read the jobs (no xa
  // yet) and reached the same point; A then creates xa and, before admitting it, lets B finish.
  let calls = 0;
  let bReady!: () => void;
  const bAtTenant = new Promise<void>((r) => (bReady = r));
  let releaseB!: () => void;
  const bGo = new Promise<void>((r) => (releaseB = r));
  let passB: Promise<unknown> | undefined;
  const getTenant = deps.resources.getTenant.bind(deps.resources);
  deps.resources.getTenant = async (name) => {
    calls++;
    if (calls === 1) {
      passB = reconcileSweeps(deps).catch((err: unknown) => err);
      await bAtTenant;
    } else if (calls === 2) {
      bReady();
      await bGo;
    }
    return getTenant(name);
  };
  const tryRes = deps.tcc.try.bind(deps.tcc);
  deps.tcc.try = async (...args: Parameters<typeof tryRes>) => {
    if (passB) {
      releaseB();
      await passB;
      passB = undefined;
    }
    return tryRes(...args);
  };
  await reconcileSweeps(deps);
  const s = await sweepsCollection(deps.store).get('alice/x');
  const job = await jobsCollection(deps.store).get('alice/x' + 'a');
  t.ok(job, 'the trial job exists');
  t.match(s?.results[0], { state: job?.state }, 'the sweep sees the trial as its job is');
  t.notOk(s?.results[0]?.final, 'not taken as ended');
});
