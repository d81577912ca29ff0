import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createBody } from '../../bin/src/sweeps.js';
import { cliSession } from '../helpers/cli.js';

// docs/api.md#experiments through `mlp sweep` (bin/src/sweeps.ts) against a running platform.
t.test('the body: a YAML or JSON file, flags over it', async (t) => {
  const dir = t.testdir({ 's.yaml': 'entry: train.py\nmetric: loss\nspace:\n  lr: [0.1, 0.01]\nparallel: 2\n', 's.json': '{"entry":"a.mjs","space":{"x":[1]},"metric":"accuracy"}' });
  t.same(await createBody('lr', { file: path.join(dir, 's.yaml'), parallel: 3, earlyStop: true }), {
    entry: 'train.py',
    metric: 'loss',
    space: { lr: [0.1, 0.01] },
    parallel: 3,
    name: 'lr',
    early_stop: true,
  });
  t.same(await createBody('x', { file: path.join(dir, 's.json') }), { entry: 'a.mjs', space: { x: [1] }, metric: 'accuracy', name: 'x' });
  t.same(await createBody('y', { entry: 'b.mjs', space: '{"u":[4,8]}', metric: 'accuracy' }), { name: 'y', entry: 'b.mjs', space: { u: [4, 8] }, metric: 'accuracy' });
  await t.rejects(createBody('z', { space: '{lr:' }), /--space must be JSON/);
});

t.test('mlp sweep create, ls, show (--follow), stop, rm', async (t) => {
  // ~20 s on a quiet machine; 256 s at load average ~50 (each `mlp` a process of its own).
  t.setTimeout(20 * 60_000);
  const { work, p, mlp } = await cliSession(t, { MLP_TENANT_CPU: '2' });
  t.equal((await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1')).code, 0);
  // Publishes one metric from its point with its job token, as a training script would.
  writeFileSync(
    path.join(work, 'trial.mjs'),
    `const p = JSON.parse(process.env.MLP_PARAMS);
    const url = process.env.MLP_API + '/api/v1/users/' + process.env.MLP_USER;
    const headers = { authorization: 'Bearer ' + process.env.MLP_TOKEN, 'content-type': 'application/json' };
    await fetch(url + '/jobs/' + process.env.MLP_JOB + ':heartbeat', { method: 'PUT', headers, body: JSON.stringify({ state: 'running', progress: 1 }) });
    await fetch(url + '/job_metrics/' + process.env.MLP_JOB, { method: 'POST', headers, body: JSON.stringify({ epoch: 0, accuracy: p.units / 10, loss: 0, progress: 50 }) });
    await new Promise((r) => setTimeout(r, 500));`,
  );
  writeFileSync(path.join(work, 'wait.mjs'), 'setInterval(() => {}, 1000)');
  await mlp('home', 'put', path.join(work, 'trial.mjs'));
  await mlp('home', 'put', path.join(work, 'wait.mjs'));
  writeFileSync(path.join(work, 'sweep.yaml'), 'entry: trial.mjs\nmetric: accuracy\nspace:\n  units: [2, 8, 4]\ncpu: 0.5\n');
  const made = await mlp('sweep', 'create', 'hu', '--file', path.join(work, 'sweep.yaml'), '--parallel', '2');
  t.equal(made.code, 0, made.out);
  t.match(made.out, /hu\s+running\s+0%\s+grid 3 trials, 2 at once\s+accuracy max\s+best -/);
  const shown = await mlp('sweep', 'show', 'hu', '--follow');
  t.equal(shown.code, 0, shown.out);
  const last = shown.out.slice(shown.out.lastIndexOf('hu  '));
  t.match(last, /hu\s+finished\s+100%.*best 0\.8 \(hub\)/, 'followed until the sweep ended');
  t.match(last, /\*\s+hub\s+finished\s+0\.8\s+0\s+units=8/, 'the best trial is marked');
  t.match(last, /\n\s+hua\s+finished\s+0\.2\s+0\s+units=2/);
  t.match((await mlp('sweep', 'ls')).out, /hu\s+finished\s+100%/);

  t.equal((await mlp('sweep', 'create', 'ws', '--entry', 'wait.mjs', '--space', '{"q":[1,2,3]}', '--metric', 'loss', '--parallel', '1', '--cpu', '0.5')).code, 0);
  const early = await mlp('sweep', 'rm', 'ws');
  t.equal(early.code, 1);
  t.match(early.out, /mlp: sweep ws still has trials to run/);
  t.match((await mlp('sweep', 'stop', 'ws')).out, /ws\s+(running|finished)/);
  let ls = '';
  for (let i = 0; i < 100 && !/ws\s+finished.*stopped by user/.test(ls); i++) {
    await new Promise((r) => setTimeout(r, 200));
    ls = (await mlp('sweep', 'ls')).out;
  }
  t.match(ls, /ws\s+finished\s+100%.*\(stopped by user\)/);
  t.match((await mlp('sweep', 'rm', 'ws')).out, /ws\s+deleting/);
  const bad = await mlp('sweep', 'create', 'bad', '--entry', 'wait.mjs', '--space', '{"q":[1]}', '--metric', 'speed');
  t.equal(bad.code, 1);
  t.match(bad.out, /mlp: .*metric/);
});
