import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { storagePaths } from '../../../shared/storage/paths.js';
import { reconcile } from '../../helpers/models.js';
import type { Answer } from '../../helpers/platform.js';
import { until as poll } from '../../helpers/poll.js';
import type { Target } from '../../helpers/target.js';
import { compareRuns, earlyStop, queuePositions, randomSweep, retries } from './sweeps-more.js';

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

export interface SweepsContext {
  api: (method: string, suffix: string, body?: unknown) => Promise<Answer>;
  /** One pass of the sweep reconciler, then one of the job reconciler. */
  pass: () => Promise<void>;
  sweep: (name: string) => Promise<Record<string, unknown>>;
  trials: (name: string) => Promise<Trial[]>;
  /** Polls (reconciling) until the sweep has ended, running `check` before each pass. */
  ended: (name: string, check?: () => Promise<void>) => Promise<Record<string, unknown>>;
  jobEnds: (name: string, states: string[]) => Promise<Record<string, unknown>>;
  refused: (t: Test, a: Answer, msg: RegExp) => void;
  cpuInUse: () => Promise<number>;
}

/**
 * A user of `user`'s name with the scripts in its home, and the scenario's helpers. The polls are
 * bounds, generous for cluster:local, where each trial is a pod and each pass an HTTP call.
 */
export async function sweepsContext(p: Target, user: string): Promise<SweepsContext> {
  await p.call('POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
  const token = (await p.call('GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] })).json as string;
  const home = storagePaths(p.root).home(user);
  mkdirSync(home, { recursive: true });
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(path.join(home, name), text);
  const api = (method: string, suffix: string, body?: unknown) => p.call(method, `/api/v1/users/${user}${suffix}`, { token, body });
  const pass = async () => {
    await reconcile(p, 'sweeps');
    await reconcile(p, 'jobs');
  };
  const sweep = async (name: string) => (await api('GET', `/sweeps/${name}`)).json as Record<string, unknown>;
  return {
    api,
    pass,
    sweep,
    trials: async (name) => (await api('GET', `/sweeps/${name}/trials`)).json as Trial[],
    ended: (name, check) =>
      poll(
        () => sweep(name),
        (s) => s.state !== 'running',
        `sweep ${name} ending`,
        { tries: 3000, ms: 100, before: async () => (await check?.(), await pass()) },
      ),
    jobEnds: (name, states) =>
      poll(
        async () => (await api('GET', `/jobs/${name}`)).json as Record<string, unknown>,
        (j) => states.includes(j.state as string),
        `job ${name} reaching ${states}`,
        { tries: 3000, ms: 100, before: pass },
      ),
    refused: (tt, a, msg) => {
      tt.equal(a.status, 403, `403 (got ${a.status} ${a.text})`);
      tt.match(a.json, { msg });
    },
    cpuInUse: async () => ((await p.call('GET', '/api/v1/tenants/default', { token })).json as { cpu_inuse: number }).cpu_inuse,
  };
}

/** Every check, on a tenant of SWEEPS_ENV to itself (test/contract/sweeps.test.ts). */
export async function sweepsScenario(t: Test, p: Target): Promise<void> {
  const c = await sweepsContext(p, 'alice');
  gridSweep(t, c);
  compareRuns(t, c);
  randomSweep(t, c);
  earlyStop(t, c);
  stopAndDelete(t, c);
  retries(t, c);
  queuePositions(t, c);
}

/** The checks that hold wherever trials run (test/cluster/contract.test.ts runs these on pods). */
export async function sweepsCoreScenario(t: Test, p: Target, user: string): Promise<void> {
  const c = await sweepsContext(p, user);
  gridSweep(t, c);
  stopAndDelete(t, c);
}

export function gridSweep(t: Test, c: SweepsContext): void {
  const { api, trials, ended, refused } = c;
  t.test('a grid sweep: every point in order, at most `parallel` at once, the best found', async (t) => {
    const a = await api('POST', '/sweeps', { name: 'gs', entry: 'trial.mjs', space: { lr: [0.1, 0.01], units: [4, 8] }, metric: 'accuracy', parallel: 2, cpu: 0.5, retries: 1 });
    t.equal(a.status, 201, a.text);
    t.match(a.json, { name: 'gs', strategy: 'grid', trials: 4, parallel: 2, goal: 'max', state: 'running', progress: 0, best: null, retries: 1 });
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
    t.match((await api('GET', '/jobs/gsc')).json, { retries: 1, attempt: 1 }, "a trial carries its sweep's retries");
    // Sweep g's trial 495 would be named gsa (bijective base 26), a trial of sweep gs.
    const wide = { a: Array.from({ length: 20 }, (_, i) => i), b: Array.from({ length: 25 }, (_, i) => i) };
    refused(t, await api('POST', '/sweeps', { name: 'g', entry: 'trial.mjs', space: wide, metric: 'loss' }), /sweep g's trial names meet those of sweep gs/);
    t.same(
      ((await api('GET', '/sweeps')).json as { name: string }[]).map((s) => s.name),
      ['gs'],
      'refused sweeps leave nothing behind',
    );
  });
}

export function stopAndDelete(t: Test, c: SweepsContext): void {
  const { api, pass, trials, ended, jobEnds, refused, cpuInUse } = c;
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
      { tries: 3000, ms: 100, before: pass },
    );
    for (const name of ['sta', 'stb']) t.equal((await api('GET', `/jobs/${name}`)).status, 403, `${name} deleted with it`);
    t.equal(await poll(cpuInUse, (c) => c === 0, 'cpu back', { tries: 600, ms: 100, before: pass }), 0);
  });
}
