import t, { type Test } from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { homeScript } from '../../test/helpers/jobs.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as createJob } from '../../functions/jobs-create/handler.js';
import jobsCreate from '../../functions/jobs-create/route.js';
import { handle as createSweepFn } from '../../functions/sweeps-create/handler.js';
import sweepsCreate from '../../functions/sweeps-create/route.js';
import { handle as deleteSweep } from '../../functions/sweeps-delete/handler.js';
import sweepsDelete from '../../functions/sweeps-delete/route.js';
import { handle as stopSweep } from '../../functions/sweeps-stop/handler.js';
import sweepsStop from '../../functions/sweeps-stop/route.js';
import { handle as trialsFn } from '../../functions/sweeps-trials/handler.js';
import sweepsTrials from '../../functions/sweeps-trials/route.js';
import { begin, store } from '../metrics/store.js';
import { jobsCollection } from '../records/jobs.js';
import { sweepsCollection } from '../records/sweeps.js';
import { reconcileSweeps, SETTLE_MS } from './reconcile.js';

// docs/api.md#experiments through the handlers and the reconciler, jobs' ends played by writing
// their records (the job reconciler's part is tested with real processes in test/contract/).
async function setup(t: Test, env: Record<string, string> = {}) {
  // The clock moves only when a test lets trials' results settle (SETTLE_MS after their jobs ended).
  let offset = 0;
  const deps = await testDeps(t, { MLP_TENANT_CPU: '10', ...env }, { now: () => new Date(Date.now() + offset) });
  const settle = () => {
    offset += SETTLE_MS;
  };
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'wait.mjs', 'setInterval(() => {}, 1000)');
  const path = '/api/v1/users/alice/sweeps';
  const sweep = (body: unknown) => invoke(sweepsCreate, createSweepFn, deps, { path, headers, body });
  const job = (name: string) => invoke(jobsCreate, createJob, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name, entry: 'wait.mjs', cpu: 0.1, ram: 100 } });
  const trials = async (name: string) =>
    (await invoke(sweepsTrials, trialsFn, deps, { path: `${path}/${name}/trials`, headers })).body as { job: string; params: unknown; state: string; value: number | null }[];
  const jobs = jobsCollection(deps.store);
  /** Ends a trial as its job would: metrics per epoch, then the record finished (or error). */
  const end = async (name: string, values: number[], state: 'finished' | 'error' = 'finished') => {
    const j = await jobs.get(`alice/${name}`);
    if (!j) throw new Error(`no job ${name}`);
    await begin(deps, 'alice', name, j.uid);
    for (const [epoch, v] of values.entries()) await store(deps, j.uid, { user: 'alice', name, epoch, accuracy: v, loss: 1 - v, progress: 50 });
    await jobs.update(j._id, {}, { set: { state, progress: 100, res: 'released' } });
  };
  return { deps, headers, sweep, job, trials, end, jobs, settle };
}

t.test('a grid sweep: trials in order with their points, parallel at a time; best and progress; finished', async (t) => {
  const { deps, sweep, trials, end, jobs, settle } = await setup(t);
  const created = await sweep({ name: 'lr', entry: 'wait.mjs', space: { lr: [0.1, 0.01], units: [8, 16] }, metric: 'accuracy', parallel: 2, cpu: 0.1, ram: 100 });
  t.equal(created.status, 201);
  t.match(created.body, { name: 'lr', strategy: 'grid', trials: 4, parallel: 2, goal: 'max', state: 'running', progress: 0, best: null });
  await reconcileSweeps(deps);
  t.same(
    (await trials('lr')).map((x) => [x.job, x.params, x.state === 'pending' ? 'pending' : 'started']),
    [
      ['lra', { lr: 0.1, units: 8 }, 'started'],
      ['lrb', { lr: 0.1, units: 16 }, 'started'],
      ['lrc', { lr: 0.01, units: 8 }, 'pending'],
      ['lrd', { lr: 0.01, units: 16 }, 'pending'],
    ],
  );
  t.match(await jobs.get('alice/lra'), { sweep: 'lr', params: { lr: 0.1, units: 8 } }, 'the trial job carries its point (MLP_PARAMS)');
  await reconcileSweeps(deps);
  t.equal((await jobs.find({ user: 'alice', sweep: 'lr' })).length, 2, 'never more than parallel at once');
  await end('lra', [0.5, 0.7]);
  await reconcileSweeps(deps);
  t.equal((await jobs.find({ user: 'alice', sweep: 'lr' })).length, 3, 'one ended, one more started');
  t.match(await sweepsCollection(deps.store).get('alice/lr'), { progress: 25, best: { job: 'lra', value: 0.7, epoch: 1, params: { lr: 0.1, units: 8 } } });
  await end('lrb', [0.9]);
  await end('lrc', [0.2], 'error');
  await reconcileSweeps(deps);
  await end('lrd', [0.3]);
  await reconcileSweeps(deps);
  t.match(await sweepsCollection(deps.store).get('alice/lr'), { state: 'running', progress: 100 }, 'every trial ended, yet not every result is final');
  // A metric lrd posted last reaches the store after its job's end was seen (on Kafka the relay stores it after the POST answered).
  const lrd = await jobs.get('alice/lrd');
  await store(deps, lrd?.uid ?? '', { user: 'alice', name: 'lrd', epoch: 1, accuracy: 0.95, loss: 0.05, progress: 100 });
  settle();
  await reconcileSweeps(deps);
  t.match(
    await sweepsCollection(deps.store).get('alice/lr'),
    { state: 'finished', progress: 100, best: { job: 'lrd', value: 0.95, epoch: 1 } },
    'the late metric counts: the sweep finished once the results settled',
  );
  t.same(
    (await trials('lr')).map((x) => [x.state, x.value]),
    [
      ['finished', 0.7],
      ['finished', 0.9],
      ['error', 0.2],
      ['finished', 0.95],
    ],
  );
});

t.test("trial names are reserved: a job can't take one, a sweep can't if a job or a sweep holds one", async (t) => {
  const { sweep, job } = await setup(t);
  t.equal((await job('abc')).status, 201);
  t.match((await sweep({ name: 'ab', entry: 'wait.mjs', space: { x: [1, 2, 3] }, metric: 'loss' })).body, { msg: /would name a trial abc, and you have a job of that name/ });
  t.equal((await sweep({ name: 'lr', entry: 'wait.mjs', space: { x: [1, 2, 3] }, metric: 'loss' })).status, 201);
  t.match((await job('lrc')).body, { msg: /job name lrc is reserved for a trial of sweep lr/ });
  t.equal((await job('lrd')).status, 201, 'past its three trials the name is free');
  // l's trial 469 would be named l + "ra", lr's first trial: 500 trials meet it, 400 do not.
  const grid = (n: number) => ({ x: Array.from({ length: 100 }, (_, i) => i), y: Array.from({ length: n }, (_, i) => i) });
  t.match((await sweep({ name: 'l', entry: 'wait.mjs', space: grid(5), metric: 'loss' })).body, { msg: /trial names meet those of sweep lr/ });
  t.equal((await sweep({ name: 'l', entry: 'wait.mjs', space: grid(4), metric: 'loss' })).status, 201);
  t.match((await sweep({ name: 'lr', entry: 'wait.mjs', space: { x: [1] }, metric: 'loss' })).body, { msg: /sweep lr already exists/ });
});

t.test('bad sweeps are refused naming what is wrong', async (t) => {
  const { sweep } = await setup(t);
  const body = { name: 'sw', entry: 'wait.mjs', space: { x: [1, 2] }, metric: 'accuracy' };
  t.match((await sweep({ ...body, name: 'a'.repeat(41) })).body, { msg: /"name" must match/ });
  t.match((await sweep({ ...body, metric: 'f1' })).body, { msg: /metric/ });
  t.match((await sweep({ ...body, entry: 'missing.mjs' })).body, { msg: /entry missing.mjs not found/ });
  t.match((await sweep({ ...body, space: { x: { min: 0, max: 1 } } })).body, { msg: /a random sweep needs "trials"/ });
  t.match((await sweep({ ...body, cpu: 11 })).body, { msg: /cpu/ });
  t.match((await sweep({ ...body, parallel: 0 })).body, { msg: /parallel/ });
});

t.test('the median rule stops a trial worse than the others at its epoch', async (t) => {
  const { deps, sweep, end, jobs } = await setup(t);
  await sweep({ name: 'es', entry: 'wait.mjs', space: { x: [1, 2, 3] }, metric: 'accuracy', parallel: 3, early_stop: true, cpu: 0.1, ram: 100 });
  await reconcileSweeps(deps);
  await end('esa', [0.5, 0.6, 0.7, 0.8]);
  await end('esb', [0.5, 0.6, 0.7, 0.8]);
  const c = await jobs.get('alice/esc');
  await jobs.update('alice/esc', {}, { set: { state: 'running' } });
  await begin(deps, 'alice', 'esc', c?.uid ?? '');
  for (const [epoch, v] of [0.1, 0.1, 0.1].entries()) await store(deps, c?.uid ?? '', { user: 'alice', name: 'esc', epoch, accuracy: v, loss: 0, progress: 10 });
  await reconcileSweeps(deps);
  t.match(await jobs.get('alice/esc'), { state: 'running' }, 'at epoch 2 it is not judged yet');
  await store(deps, c?.uid ?? '', { user: 'alice', name: 'esc', epoch: 3, accuracy: 0.1, loss: 0, progress: 10 });
  await reconcileSweeps(deps);
  t.match(await jobs.get('alice/esc'), { state: 'error', msg: 'stopped early by sweep es' });
});

t.test(':stop stops waiting and running trials and starts no more; delete removes the trials', async (t) => {
  const { deps, headers, sweep, jobs, settle } = await setup(t);
  await sweep({ name: 'st', entry: 'wait.mjs', space: { x: [1, 2, 3, 4] }, metric: 'loss', parallel: 2, cpu: 0.1, ram: 100 });
  await reconcileSweeps(deps);
  const path = '/api/v1/users/alice/sweeps/st';
  t.match((await invoke(sweepsDelete, deleteSweep, deps, { method: 'DELETE', path, headers })).body, { msg: /still has trials to run .*stop it first/ });
  const stopped = await invoke(sweepsStop, stopSweep, deps, { method: 'PUT', path: `${path}:stop`, headers, body: {} });
  t.equal(stopped.status, 200);
  t.same(
    (await jobs.find({ user: 'alice', sweep: 'st' })).map((j) => [j.name, j.state, j.msg]),
    [
      ['sta', 'error', 'stopped by user (sweep st)'],
      ['stb', 'error', 'stopped by user (sweep st)'],
    ],
  );
  await reconcileSweeps(deps);
  settle();
  await reconcileSweeps(deps);
  t.match(await sweepsCollection(deps.store).get('alice/st'), { state: 'finished', msg: 'stopped by user', progress: 100, launched: 2 });
  t.equal((await jobs.find({ user: 'alice', sweep: 'st' })).length, 2, 'no trial started after the stop');
  t.match((await invoke(sweepsDelete, deleteSweep, deps, { method: 'DELETE', path, headers })).body, { state: 'deleting' });
  await reconcileSweeps(deps);
  t.same(
    (await jobs.find({ user: 'alice', sweep: 'st' })).map((j) => j.state),
    ['deleting', 'deleting'],
    'its trial jobs are being deleted',
  );
  for (const j of await jobs.find({ user: 'alice', sweep: 'st' })) await jobs.remove(j._id, {}); // the job reconciler's part
  await reconcileSweeps(deps);
  t.equal(await sweepsCollection(deps.store).get('alice/st'), null, 'then the sweep goes');
});
