import t, { type Test } from 'tap';
import { handle as stop } from '../../functions/jobs-stop/handler.js';
import stopRoute from '../../functions/jobs-stop/route.js';
import { handle as create } from '../../functions/jobs-create/handler.js';
import createRoute from '../../functions/jobs-create/route.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { homeScript } from '../../test/helpers/jobs.js';
import { until } from '../../test/helpers/poll.js';
import { userWithToken } from '../../test/helpers/users.js';
import { jobsCollection, type JobDoc } from '../records/jobs.js';
import { syncWorkloads } from './lifecycle.js';
import { backoffS, workloadId } from './retry.js';

// docs/api.md#experiments, retries: real processes of the local orchestrator; the clock is the
// test's, so the backoffs pass at once.

t.test('backoff: 10 s doubling, at most 5 minutes; each attempt a workload of its own', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 10].map(backoffS), [10, 20, 40, 80, 160, 300, 300]);
  t.equal(workloadId({ uid: 'u' }), 'u');
  t.equal(workloadId({ uid: 'u', attempt: 1 }), 'u');
  t.equal(workloadId({ uid: 'u', attempt: 3 }), 'u-a3');
});

async function setup(t: Test) {
  let clock = Date.parse('2030-01-01T00:00:00.000Z');
  const deps = await testDeps(t, { MLP_TENANT_CPU: '2' }, { now: () => new Date(clock) });
  const headers = await userWithToken(deps, 'alice');
  const submit = (name: string, entry: string, retries?: number) =>
    invoke(createRoute, create, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name, entry, cpu: 0.5, ram: 200, ...(retries !== undefined ? { retries } : {}) } });
  const jobs = jobsCollection(deps.store);
  /** Reconciles until the job is as `ok` says (a real process ends in its own time). */
  const settle = async (name: string, ok: (j: JobDoc) => boolean, what: string) =>
    until(
      async () => {
        await syncWorkloads(deps, '1970-01-01T00:00:00.000Z');
        return jobs.get(`alice/${name}`);
      },
      (j) => j !== null && ok(j),
      what,
      { tries: 200, ms: 100 },
    );
  const wait = (seconds: number) => {
    clock += seconds * 1000;
  };
  return { deps, headers, submit, settle, wait, now: () => clock };
}

t.test('a failing job is launched again after each backoff, then ends in error saying which attempt', async (t) => {
  const { deps, submit, settle, wait, now } = await setup(t);
  homeScript(deps, 'alice', 'fail.mjs', 'process.exit(3)');
  t.match((await submit('flaky', 'fail.mjs', 2)).body, { retries: 2 });
  let j = await settle('flaky', (x) => Boolean(x.retry_at), 'the first attempt failed');
  t.match(j, { state: 'creating', attempt: 1, res: 'held', msg: /^attempt 1 of 3: the entry ended with exit code 3; attempt 2 starts at / });
  t.equal(Date.parse(j?.retry_at ?? '') - now(), 10_000, 'the first backoff is 10 s');
  await syncWorkloads(deps);
  t.match(await deps.store.collection('job').get('alice/flaky'), { attempt: 1 }, 'nothing starts before its time');
  wait(10);
  j = await settle('flaky', (x) => x.attempt === 2 && Boolean(x.retry_at), 'the second attempt failed');
  t.equal(Date.parse(j?.retry_at ?? '') - now(), 20_000, 'the second backoff is 20 s');
  wait(20);
  j = await settle('flaky', (x) => x.state === 'error', 'the third attempt failed');
  t.match(j, { attempt: 3, msg: 'the entry ended with exit code 3 (attempt 3 of 3)' });
  t.notOk(j?.retry_at);
});

t.test('the workspace is kept between attempts: a script that checkpoints resumes', async (t) => {
  const { deps, submit, settle, wait } = await setup(t);
  // The first attempt saves a checkpoint and fails; the second finds it and finishes.
  homeScript(
    deps,
    'alice',
    'resume.mjs',
    `import { existsSync, writeFileSync } from 'node:fs';
const ckpt = process.env.MLP_WORKSPACE + '/ckpt/step';
if (existsSync(ckpt)) process.exit(0);
writeFileSync(ckpt, '1');
process.exit(1);`,
  );
  await submit('resumes', 'resume.mjs', 1);
  await settle('resumes', (x) => Boolean(x.retry_at), 'the first attempt failed');
  wait(10);
  const j = await settle('resumes', (x) => x.state === 'finished', 'the second attempt finished');
  t.match(j, { attempt: 2, progress: 100 });
});

t.test('without retries a failed job ends at once; a stopped one is never retried', async (t) => {
  const { deps, headers, submit, settle } = await setup(t);
  homeScript(deps, 'alice', 'fail.mjs', 'process.exit(3)');
  homeScript(deps, 'alice', 'wait.mjs', 'setInterval(() => {}, 1000)');
  await submit('once', 'fail.mjs');
  t.match(await settle('once', (x) => x.state === 'error', 'it failed'), { attempt: 1, msg: 'the entry ended with exit code 3' });
  await submit('held', 'wait.mjs', 3);
  await settle('held', (x) => x.state === 'running', 'it runs');
  const stopped = await invoke(stopRoute, stop, deps, { method: 'PUT', path: '/api/v1/users/alice/jobs/held:stop', headers, body: {} });
  t.match(stopped.body, { state: 'error', msg: 'stopped by user' });
  await syncWorkloads(deps);
  t.match(await deps.store.collection('job').get('alice/held'), { state: 'error', attempt: 1 });
});
