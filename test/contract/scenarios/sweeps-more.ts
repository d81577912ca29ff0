import type { Test } from 'tap';
import { until as poll } from '../../helpers/poll.js';
import type { SweepsContext } from './sweeps.js';

// The checks of test/contract/scenarios/sweeps.ts that run only in-process (sweepsScenario): a
// random sweep, the median rule, retries with their 10 s backoff, queue positions, compare runs.

export function compareRuns(t: Test, c: SweepsContext): void {
  const { api, refused } = c;
  t.test('compare runs: the trials’ metrics side by side', async (t) => {
    const a = await api('GET', '/job_metrics?jobs=gsa,gsb,nosuch');
    t.equal(a.status, 200, a.text);
    const got = a.json as Record<string, { epoch: number; accuracy: number }[]>;
    t.same(
      got.gsa?.map((m) => m.epoch),
      [0, 1],
    );
    t.ok(Math.abs((got.gsb?.[1]?.accuracy ?? 0) - 0.9) < 1e-9);
    t.same(got.nosuch, [], 'a job without metrics gives []');
    refused(t, await api('GET', '/job_metrics?jobs=gsa&points=1'), /"points" must be an integer from 2/);
    refused(t, await api('GET', '/job_metrics'), /query "jobs" is missing/);
  });
}

export function randomSweep(t: Test, c: SweepsContext): void {
  const { api, trials, ended } = c;
  t.test('a random sweep draws each point within its ranges', async (t) => {
    const space = { lr: { min: 0.001, max: 0.1, log: true }, units: { min: 2, max: 16, int: true }, act: ['relu', 'tanh'] };
    t.equal((await api('POST', '/sweeps', { name: 'rs', entry: 'trial.mjs', space, strategy: 'random', trials: 3, parallel: 3, metric: 'accuracy', cpu: 0.5 })).status, 201);
    t.match(await ended('rs'), { state: 'finished', progress: 100 });
    const listed = await trials('rs');
    t.equal(listed.length, 3);
    for (const x of listed) {
      const { lr, units, act } = x.params as { lr: number; units: number; act: string };
      t.ok(lr >= 0.001 && lr <= 0.1, `lr ${lr} within [0.001, 0.1]`);
      t.ok(Number.isInteger(units) && units >= 2 && units <= 16, `units ${units} an integer within [2, 16]`);
      t.ok(['relu', 'tanh'].includes(act), `act ${act} one of the list`);
      t.ok(Math.abs((x.value ?? -1) - (units / 10 + lr)) < 1e-9, `${x.job} ran with its own point`);
    }
  });
}

export function earlyStop(t: Test, c: SweepsContext): void {
  const { api, ended } = c;
  t.test('early stopping: the median rule stops the trial that trails', async (t) => {
    t.equal((await api('POST', '/sweeps', { name: 'es', entry: 'curve.mjs', space: { q: [1, 2] }, metric: 'accuracy', early_stop: true, parallel: 2, cpu: 0.5 })).status, 201);
    t.match(await ended('es'), { state: 'finished', best: { job: 'esb', value: 0.2 } });
    t.match((await api('GET', '/jobs/esa')).json, { state: 'error', msg: 'stopped early by sweep es' });
    t.match((await api('GET', '/jobs/esb')).json, { state: 'finished' });
    const curve = ((await api('GET', '/job_metrics?jobs=esa')).json as Record<string, unknown[]>).esa ?? [];
    t.ok(curve.length >= 4 && curve.length < 80, `esa was stopped from epoch 3 on, before its end (${curve.length} epochs)`);
  });
}

export function retries(t: Test, c: SweepsContext): void {
  const { api, pass, jobEnds, cpuInUse } = c;
  t.test('retries: a job that fails once resumes from its checkpoint', async (t) => {
    t.equal((await api('POST', '/jobs', { name: 'rt', entry: 'resume.mjs', retries: 1, cpu: 0.5 })).status, 201);
    const waiting = await poll(
      async () => (await api('GET', '/jobs/rt')).json as Record<string, unknown>,
      (j) => /attempt 1 of 2/.test(String(j.msg)),
      'rt waiting to retry',
      {
        tries: 600,
        ms: 100,
        before: pass,
      },
    );
    t.match(waiting, { state: 'creating', attempt: 1, retries: 1, msg: /attempt 1 of 2: .*exit code 3; attempt 2 starts at / });
    t.equal(await cpuInUse(), 0.5, 'it holds its resources while it waits');
    // The backoff is 10 s of real time (shared/jobs/retry.ts).
    t.match(await jobEnds('rt', ['finished', 'error']), { state: 'finished', attempt: 2 });
    t.match((await api('GET', '/jobs/rt/log')).text, 'resumed from 5');
  });
}

export function queuePositions(t: Test, c: SweepsContext): void {
  const { api, pass, jobEnds, refused, cpuInUse } = c;
  t.test('queue positions move up as jobs are admitted', async (t) => {
    t.equal((await api('POST', '/jobs', { name: 'hog', entry: 'hold.mjs', cpu: 2 })).status, 201);
    await jobEnds('hog', ['running']);
    for (const [name, cpu] of [
      ['qa', 1],
      ['qb', 1],
      ['qc', 2],
    ] as const)
      t.equal((await api('POST', '/jobs', { name, entry: 'hold.mjs', cpu })).status, 201);
    const position = async (name: string) => ((await api('GET', `/jobs/${name}`)).json as { queue?: { position: number } }).queue?.position;
    t.same([await position('qa'), await position('qb'), await position('qc')], [1, 2, 3]);
    const listed = (await api('GET', '/jobs')).json as { name: string; queue?: { position: number } }[];
    t.same(
      listed.filter((j) => j.queue).map((j) => [j.name, j.queue?.position]),
      [
        ['qa', 1],
        ['qb', 2],
        ['qc', 3],
      ],
      'the list shows the same positions',
    );
    t.equal(await position('hog'), undefined, 'a running job has no position');
    refused(t, await api('POST', '/sweeps', { name: 'q', entry: 'hold.mjs', space: { x: [1] }, metric: 'loss' }), /sweep q would name a trial qa, and you have a job of that name/);
    await api('PUT', '/jobs/hog:stop', {});
    for (const name of ['qa', 'qb']) await jobEnds(name, ['running']);
    t.same([await position('qa'), await position('qc')], [undefined, 1], 'qc is next once the two ahead were admitted');
    for (const name of ['qa', 'qb', 'qc']) await api('PUT', `/jobs/${name}:stop`, {});
    t.equal(await poll(cpuInUse, (c) => c === 0, 'cpu back', { tries: 100, ms: 100, before: pass }), 0);
  });
}
