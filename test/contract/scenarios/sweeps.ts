import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { storagePaths } from '../../../shared/storage/paths.js';
import { reconcile } from '../../helpers/models.js';
import type { Answer } from '../../helpers/platform.js';
import { until as poll } from '../../helpers/poll.js';
import type { Target } from '../../helpers/target.js';

// docs/api.md#experiments (sweeps, retries) and docs/api.md#jobs (queue position) over HTTP, with
// real trial processes; compare runs of docs/api.md#job-metrics on the trials' metrics.
const PRELUDE = `
  const api = process.env.MLP_API + '/api/v1/users/' + process.env.MLP_USER;
  const headers = { authorization: 'Bearer ' + process.env.MLP_TOKEN, 'content-type': 'application/json' };
  const put = (url, body) => fetch(api + url, { method: 'PUT', headers, body: JSON.stringify(body) });
  const post = (url, body) => fetch(api + url, { method: 'POST', headers, body: JSON.stringify(body) });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const p = JSON.parse(process.env.MLP_PARAMS || '{}');
  console.log('params', JSON.stringify(p));
  await put('/jobs/' + process.env.MLP_JOB + ':heartbeat', { state: 'running', progress: 1 });
  // Metrics of a running job are stored by the relay: each epoch is published while it runs.
  const epoch = async (n, accuracy) => {
    const r = await post('/job_metrics/' + process.env.MLP_JOB, [{ epoch: n, accuracy, loss: 1 - accuracy, progress: 10 }]);
    if (r.status !== 200) throw new Error('publish ' + r.status);
  };
`;

const SCRIPTS: Record<string, string> = {
  // Two epochs; its accuracy follows from its point, so the best trial is known beforehand.
  'trial.mjs': `${PRELUDE}
    const acc = Number(p.units ?? 0) / 10 + Number(p.lr ?? 0);
    await epoch(0, acc / 2); await sleep(200); await epoch(1, acc); await sleep(500);`,
  // The median rule's case: q=1 is worse than q=2 at every epoch and would run long. q=1 is
  // compared only at epochs q=2 reached (shared/sweeps/trials.ts medianStops), so q=2 runs ahead
  // (twice as fast, 40 epochs): a pass anywhere in q=1's epochs 3 to 39 (~18 s) stops it, even
  // when passes are slow (MongoDB at load average ~60 missed a window of a few seconds).
  'curve.mjs': `${PRELUDE}
    const [epochs, ms] = p.q === 1 ? [80, 500] : [40, 250];
    for (let n = 0; n < epochs; n++) { await epoch(n, p.q / 10); await sleep(ms); }`,
  'hold.mjs': `${PRELUDE} setInterval(() => {}, 1000);`,
  // Fails once after a checkpoint; the retry finds it in the kept workspace.
  'resume.mjs': `
    import { existsSync, readFileSync, writeFileSync } from 'node:fs';
    if (existsSync('ckpt/step')) { console.log('resumed from', readFileSync('ckpt/step', 'utf8')); }
    else { writeFileSync('ckpt/step', '5'); console.error('failing once'); process.exit(3); }`,
};

/** The tenant the scenario's numbers assume. */
export const SWEEPS_ENV = { MLP_TENANT_CPU: '2', MLP_TENANT_GPU: '0', MLP_TENANT_RAM: '8000' };

interface Trial {
  job: string;
  params: Record<string, number | string>;
  state: string;
  value: number | null;
  epoch: number | null;
}

export async function sweepsScenario(t: Test, p: Target): Promise<void> {
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const home = storagePaths(p.root).home('alice');
  mkdirSync(home, { recursive: true });
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(path.join(home, name), text);
  const api = (method: string, suffix: string, body?: unknown) => p.call(method, `/api/v1/users/alice${suffix}`, { token, body });
  const pass = async () => {
    await reconcile(p, 'sweeps');
    await reconcile(p, 'jobs');
  };
  const sweep = async (name: string) => (await api('GET', `/sweeps/${name}`)).json as Record<string, unknown>;
  const trials = async (name: string) => (await api('GET', `/sweeps/${name}/trials`)).json as Trial[];
  const ended = (name: string, check?: () => Promise<void>) =>
    poll(
      () => sweep(name),
      (s) => s.state !== 'running',
      `sweep ${name} ending`,
      { tries: 600, ms: 100, before: async () => (await check?.(), await pass()) },
    );
  const jobEnds = (name: string, states: string[]) =>
    poll(
      async () => (await api('GET', `/jobs/${name}`)).json as Record<string, unknown>,
      (j) => states.includes(j.state as string),
      `job ${name} reaching ${states}`,
      {
        tries: 1200,
        ms: 100,
        before: pass,
      },
    );
  const refused = (tt: Test, a: Answer, msg: RegExp) => {
    tt.equal(a.status, 403, `403 (got ${a.status} ${a.text})`);
    tt.match(a.json, { msg });
  };
  const cpuInUse = async () => ((await p.call('GET', '/api/v1/tenants/default', { token })).json as { cpu_inuse: number }).cpu_inuse;

  t.test('a grid sweep: every point in order, at most `parallel` at once, the best found', async (t) => {
    const a = await api('POST', '/sweeps', { name: 'gs', entry: 'trial.mjs', space: { lr: [0.1, 0.01], units: [4, 8] }, metric: 'accuracy', parallel: 2, cpu: 0.5 });
    t.equal(a.status, 201, a.text);
    t.match(a.json, { name: 'gs', strategy: 'grid', trials: 4, parallel: 2, goal: 'max', state: 'running', progress: 0, best: null });
    // gsd is created only after two trials ended; a job may not take the name meanwhile.
    refused(t, await api('POST', '/jobs', { name: 'gsd', entry: 'trial.mjs' }), /job name gsd is reserved for a trial of sweep gs/);
    let most = 0;
    const watch = async () => {
      const listed = (await api('GET', '/jobs')).json as { name: string; state: string }[];
      most = Math.max(most, listed.filter((j) => /^gs[a-d]$/.test(j.name) && ['creating', 'running'].includes(j.state)).length);
    };
    const done = await ended('gs', watch);
    t.match(done, { state: 'finished', progress: 100, best: { job: 'gsb', params: { lr: 0.1, units: 8 }, epoch: 1 } });
    t.ok(Math.abs((done.best as { value: number }).value - 0.9) < 1e-9, 'the best value is the best trial’s best epoch');
    t.ok(most >= 1 && most <= 2, `never more than 2 trials waiting or running (most seen ${most})`);
    const listed = await trials('gs');
    t.same(
      listed.map((x) => [x.job, x.params, x.state, x.epoch]),
      [
        ['gsa', { lr: 0.1, units: 4 }, 'finished', 1],
        ['gsb', { lr: 0.1, units: 8 }, 'finished', 1],
        ['gsc', { lr: 0.01, units: 4 }, 'finished', 1],
        ['gsd', { lr: 0.01, units: 8 }, 'finished', 1],
      ],
      'trials in grid order, the first parameter varying slowest',
    );
    t.match((await api('GET', '/jobs/gsc/log')).text, 'params {"lr":0.01,"units":4}', 'a trial gets its point as MLP_PARAMS');
    // Sweep g's trial 495 would be named gsa (bijective base 26), a trial of sweep gs.
    const wide = { a: Array.from({ length: 20 }, (_, i) => i), b: Array.from({ length: 25 }, (_, i) => i) };
    refused(t, await api('POST', '/sweeps', { name: 'g', entry: 'trial.mjs', space: wide, metric: 'loss' }), /sweep g's trial names meet those of sweep gs/);
    t.same(
      ((await api('GET', '/sweeps')).json as { name: string }[]).map((s) => s.name),
      ['gs'],
      'refused sweeps leave nothing behind',
    );
  });

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

  t.test('early stopping: the median rule stops the trial that trails', async (t) => {
    t.equal((await api('POST', '/sweeps', { name: 'es', entry: 'curve.mjs', space: { q: [1, 2] }, metric: 'accuracy', early_stop: true, parallel: 2, cpu: 0.5 })).status, 201);
    t.match(await ended('es'), { state: 'finished', best: { job: 'esb', value: 0.2 } });
    t.match((await api('GET', '/jobs/esa')).json, { state: 'error', msg: 'stopped early by sweep es' });
    t.match((await api('GET', '/jobs/esb')).json, { state: 'finished' });
    const curve = ((await api('GET', '/job_metrics?jobs=esa')).json as Record<string, unknown[]>).esa ?? [];
    t.ok(curve.length >= 4 && curve.length < 80, `esa was stopped from epoch 3 on, before its end (${curve.length} epochs)`);
  });

  t.test(':stop, then delete with its trials', async (t) => {
    t.equal((await api('POST', '/sweeps', { name: 'st', entry: 'hold.mjs', space: { q: [1, 2, 3, 4] }, metric: 'loss', parallel: 2, cpu: 0.5 })).status, 201);
    for (const name of ['sta', 'stb']) await jobEnds(name, ['running']);
    refused(t, await api('DELETE', '/sweeps/st'), /sweep st still has trials to run/);
    t.equal((await api('PUT', '/sweeps/st:stop', {})).status, 200);
    t.match(await ended('st'), { state: 'finished', msg: 'stopped by user', progress: 100 });
    for (const name of ['sta', 'stb']) t.match((await api('GET', `/jobs/${name}`)).json, { state: 'error', msg: /stopped by user/ });
    t.same(
      (await trials('st')).map((x) => x.state),
      ['error', 'error', 'pending', 'pending'],
      'no more trials started',
    );
    t.equal((await api('GET', '/jobs/stc')).status, 403, 'stc never became a job');
    t.match((await api('DELETE', '/sweeps/st')).json, { state: 'deleting' });
    await poll(
      () => api('GET', '/sweeps/st'),
      (a) => a.status !== 200,
      'sweep st gone',
      { tries: 600, ms: 100, before: pass },
    );
    for (const name of ['sta', 'stb']) t.equal((await api('GET', `/jobs/${name}`)).status, 403, `${name} deleted with it`);
    t.equal(await poll(cpuInUse, (c) => c === 0, 'cpu back', { tries: 100, ms: 100, before: pass }), 0);
  });

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
