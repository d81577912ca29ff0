import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { storagePaths } from '../../../shared/storage/paths.js';
import { reconcile as reconcileOnce } from '../../helpers/models.js';
import type { Answer } from '../../helpers/platform.js';
import { until as poll } from '../../helpers/poll.js';
import type { Target } from '../../helpers/target.js';

// docs/api.md#jobs on a target (in-process with the local orchestrator, or cluster:local with pods):
// admission and the FIFO queue, the script's environment and heartbeats, exits, stop, logs, deletion.
function refused(t: Test, a: Answer, msg: RegExp) {
  t.equal(a.status, 403, `403 (got ${a.status} ${a.text})`);
  t.match(a.json, { msg });
}

const SCRIPTS: Record<string, string> = {
  // Reports running by heartbeat with its job token, writes a checkpoint, ends cleanly.
  'train.mjs': `
    import { writeFileSync } from 'node:fs';
    const api = process.env.MLP_API, user = process.env.MLP_USER, job = process.env.MLP_JOB;
    const beat = (state, progress) => fetch(api + '/api/v1/users/' + user + '/jobs/' + job + ':heartbeat', {
      method: 'PUT', headers: { authorization: 'Bearer ' + process.env.MLP_TOKEN, 'content-type': 'application/json' },
      body: JSON.stringify({ state, progress }) }).then((r) => r.status);
    console.log('heartbeat', await beat('running', 50));
    writeFileSync('ckpt/model.json', '{"w":[1,2,3]}');
    console.log('cwd', process.cwd(), 'home', process.env.MLP_HOME);
  `,
  'fail.mjs': `console.error('boom'); process.exit(2);`,
  'forever.mjs': `console.log('started'); setInterval(() => {}, 1000);`,
};

/** The tenant the scenario's numbers assume. */
export const JOBS_ENV = { MLP_TENANT_CPU: '2', MLP_TENANT_GPU: '0', MLP_TENANT_RAM: '4000' };

export async function jobsScenario(t: Test, p: Target): Promise<void> {
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const home = storagePaths(p.root).home('alice');
  mkdirSync(home, { recursive: true });
  for (const [name, text] of Object.entries(SCRIPTS)) writeFileSync(path.join(home, name), text);
  const jobs = (method: string, suffix = '', body?: unknown) => p.call(method, `/api/v1/users/alice/jobs${suffix}`, { token, body });
  const reconcile = () => reconcileOnce(p, 'jobs');
  const until = async (name: string, states: string[]) => {
    await poll(
      async () => (await jobs('GET', `/${name}`)).json as { state: string },
      (j) => states.includes(j.state),
      `job ${name} reaching ${states.join('/')}`,
      { tries: 1200, before: reconcile },
    );
    return (await jobs('GET', `/${name}`)).json as Record<string, unknown>;
  };
  const cpuInUse = async () => ((await p.call('GET', '/api/v1/tenants/default', { token })).json as { cpu_inuse: number }).cpu_inuse;

  t.test('refused submissions change nothing', async (t) => {
    refused(t, await jobs('POST', '', { name: 'train1', entry: 'train.mjs' }), /"name" must match/);
    refused(t, await jobs('POST', '', { name: 'nope', entry: 'missing.mjs' }), /entry missing\.mjs not found in your home/);
    refused(t, await jobs('POST', '', { name: 'nope', entry: '../x.mjs' }), /without \. or \.\. segments/);
    refused(t, await jobs('POST', '', { name: 'nope', entry: 'train.mjs', runtime: 'torch' }), /runtime torch runs \.py entries, not \.mjs/);
    refused(t, await jobs('POST', '', { name: 'nope', entry: 'train.mjs', runtime: 'jax' }), /runtime jax is not offered here; this installation offers tf, torch/);
    refused(t, await jobs('POST', '', { name: 'nope', entry: 'train.sh' }), /runtime tf runs \.py, \.mjs or \.js entries, not \.sh/);
    refused(t, await jobs('POST', '', { name: 'nope', entry: 'train.mjs', cpu: 3 }), /can never fit the tenant: needs cpu 3; capacity cpu 2/);
    refused(t, await jobs('POST', '', { name: 'nope', entry: 'train.mjs', cpu: 0.05 }), /"cpu" must be >= 0\.1/);
    t.same((await jobs('GET')).json, []);
  });

  t.test('a job runs with its environment, heartbeats with its token, exits finished', async (t) => {
    const a = await jobs('POST', '', { name: 'train', entry: 'train.mjs', cpu: 0.5 });
    t.equal(a.status, 201);
    t.match(a.json, { name: 'train', user: 'alice', runtime: 'tf', entry: 'train.mjs', cpu: 0.5, gpu: 0, ram: 1000 });
    const done = await until('train', ['finished', 'error']);
    t.match(done, { state: 'finished', progress: 100 });
    const log = (await jobs('GET', '/train/log')).text;
    t.match(log, 'heartbeat 200', 'the job token was accepted for its own heartbeat');
    t.match(log, `cwd ${p.jobCwd('alice', 'train')}`, 'it runs in its job folder');
    t.ok(existsSync(path.join(storagePaths(p.root).job('alice', 'train'), 'ckpt', 'model.json')), 'outputs land in the workspace');
    // A pass another caller started (the schedule, a pod event) may be between ending it and giving
    // its resources back; on a loaded cluster that can outlast our pass, so a few more may be needed.
    t.equal(await poll(cpuInUse, (cpu) => cpu === 0, "the ended job's cpu given back", { tries: 30, ms: 500, before: reconcile }), 0, 'its resources were released when it ended');
    refused(t, await jobs('PUT', '/train:heartbeat', { state: 'running', progress: 1 }), /is finished; a heartbeat cannot make it running/);
  });

  t.test('a failing entry ends in error with the exit code', async (t) => {
    await jobs('POST', '', { name: 'broken', entry: 'fail.mjs' });
    t.match(await until('broken', ['error', 'finished']), { state: 'error', msg: /exit code 2/ });
    t.match((await jobs('GET', '/broken/log')).text, 'boom');
  });

  t.test('jobs that do not fit wait, and are admitted first-in first-out', async (t) => {
    const first = await jobs('POST', '', { name: 'big', entry: 'forever.mjs', cpu: 2 });
    t.equal(first.status, 201);
    await until('big', ['running']);
    for (let i = 0; i < 1200 && !(await jobs('GET', '/big/log')).text.includes('started'); i++) await new Promise((r) => setTimeout(r, 25));
    t.match((await jobs('GET', '/big/log')).text, 'started', "the log shows the running script's output");
    const second = await jobs('POST', '', { name: 'second', entry: 'forever.mjs', cpu: 1.5 });
    t.match(second.json, { state: 'creating', msg: /waiting for resources: request does not fit now: needs cpu 1\.5; free cpu 0/ });
    const third = await jobs('POST', '', { name: 'third', entry: 'forever.mjs', cpu: 0.5 });
    t.match(third.json, { state: 'creating', msg: /waiting for resources/ }, 'a smaller job does not overtake the queue');
    const stopped = await jobs('PUT', '/big:stop', {});
    t.match(stopped.json, { state: 'error', msg: 'stopped by user' });
    await until('second', ['running']);
    await until('third', ['running']);
    t.equal(await cpuInUse(), 2);
    refused(t, await jobs('PUT', '/big:stop', {}), /is error; only creating or running jobs can be stopped/);
    for (const name of ['second', 'third']) await jobs('PUT', `/${name}:stop`, {});
    t.equal(await cpuInUse(), 0, 'stopping gives everything back');
  });

  t.test('a queued job can be stopped before it ever runs', async (t) => {
    await jobs('POST', '', { name: 'hog', entry: 'forever.mjs', cpu: 2 });
    await until('hog', ['running']);
    await jobs('POST', '', { name: 'queued', entry: 'forever.mjs', cpu: 1 });
    t.match((await jobs('PUT', '/queued:stop', {})).json, { state: 'error', msg: 'stopped by user' });
    await jobs('PUT', '/hog:stop', {});
    await reconcile();
    t.match((await jobs('GET', '/queued')).json, { state: 'error' }, 'it stays stopped');
    t.equal(await cpuInUse(), 0);
  });

  t.test('delete: only finished or error; then the workspace and record go', async (t) => {
    await jobs('POST', '', { name: 'live', entry: 'forever.mjs', cpu: 0.5 });
    await until('live', ['running']);
    refused(t, await jobs('DELETE', '/live'), /is running; only finished or error jobs can be deleted/);
    t.match((await jobs('DELETE', '/train')).json, { state: 'deleting' });
    t.match((await jobs('DELETE', '/train')).json, { state: 'deleting' }, 'idempotent');
    // Our pass deletes it, or one the schedule (on a cluster, a workload event) started first does.
    for (let i = 0; i < 100 && (await jobs('GET', '/train')).status === 200; i++) await reconcile();
    refused(t, await jobs('GET', '/train'), /job train not found/);
    t.notOk(existsSync(storagePaths(p.root).job('alice', 'train')), 'workspace removed');
    t.equal((await jobs('POST', '', { name: 'train', entry: 'train.mjs', cpu: 0.5 })).status, 201, 'the name can be reused');
    await jobs('PUT', '/live:stop', {});
  });

  t.test('job tokens: only for their own, current job', async (t) => {
    const done = await until('train', ['finished', 'error']);
    t.equal(done.state, 'finished');
    const current = (await p.store.collection('job').get('alice/train')) as { uid: string } | null;
    const own = await p.tokens.issue({ sub: 'alice', kind: 'job', job: 'train', job_id: current?.uid ?? '' });
    const old = await p.tokens.issue({ sub: 'alice', kind: 'job', job: 'train', job_id: 'an-earlier-uid' });
    refused(t, await p.call('PUT', '/api/v1/users/alice/jobs/train:heartbeat', { token: old.token, body: { state: 'running', progress: 1 } }), /earlier job named train/);
    refused(t, await p.call('PUT', '/api/v1/users/alice/jobs/live:heartbeat', { token: own.token, body: { state: 'running', progress: 1 } }), /belongs to job train, not live/);
    refused(t, await p.call('GET', '/api/v1/users/alice/jobs/train', { token: own.token }), /job token cannot be used here/);
  });
}
