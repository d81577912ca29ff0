import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createBody } from '../../bin/src/sweeps.js';
import { classOf, davPut, irisDataset, rightOf, X } from '../helpers/iris-rows.js';
import { modelSettled, reconcile, SERVER_CPU, SERVER_RAM } from '../helpers/models.js';
import { until } from '../helpers/poll.js';
import { call, startTestPlatform } from '../helpers/platform.js';

// examples/iris-sweep as its README runs it, on `npm start`'s setup (test/runtime/python-examples.test.ts
// runs the other Python examples there): the sweep file read as `mlp sweep create --file` reads it
// (bin/src/sweeps.ts createBody), its trials real Keras trainings in runtime tf, the best trial
// made a model and an app, which classifies the 150 iris rows through the app gateway. The file's
// own grid (9 trials) is checked as the platform takes it, then stopped; the trainings run a 2 × 2
// grid given as `--space` overrides it, so the test takes minutes, not a quarter of an hour.
const REPO = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(REPO, 'examples/iris-sweep');
const SMALL = { lr: [0.1, 0.005], units: [4, 32] };

interface Sweep {
  state: string;
  trials: number;
  progress: number;
  msg?: string;
  best: { job: string; params: { lr: number; units: number }; value: number; epoch: number } | null;
}
interface Trial {
  job: string;
  params: { lr: number; units: number };
  state: string;
  value: number | null;
  epoch: number | null;
}

// Four trainings with TensorFlow, an ONNX export each and a model server: longer than the 300 s default.
t.setTimeout(30 * 60_000);

t.test('examples/iris-sweep: the sweep file, its trials, the best trial as a model and an app', async (t) => {
  const p = await startTestPlatform({ MLP_TENANT_CPU: '4', MLP_TENANT_RAM: '8000' });
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const api = (method: string, suffix: string, body?: unknown) => p.call(method, `/api/v1/users/alice${suffix}`, { token, ...(body === undefined ? {} : { body }) });
  const pass = async () => {
    await reconcile(p, 'sweeps');
    await reconcile(p, 'jobs');
  };
  const ended = (name: string) =>
    until(
      async () => (await api('GET', `/sweeps/${name}`)).json as Sweep,
      (s) => s.state !== 'running',
      `sweep ${name} ending`,
      { before: pass, ms: 500, tries: 3000 },
    );
  const gone = (name: string) =>
    until(
      async () => (await api('GET', `/sweeps/${name}`)).status,
      (s) => s === 403,
      `sweep ${name} deleted`,
      { before: pass, ms: 200, tries: 1500 },
    );
  await irisDataset(t, p, token);
  // `mlp home put examples/iris-sweep/train.py`: the home's train.py, the file's entry.
  t.equal(await davPut(p, token, '/data/alice/.home/train.py', readFileSync(path.join(EXAMPLE, 'train.py'))), 201);
  const file = path.join(EXAMPLE, 'sweep.yaml');

  t.test("the example's sweep file is taken as its README says", async (t) => {
    const created = await api('POST', '/sweeps', await createBody('iris', { file }));
    t.equal(created.status, 201, created.text);
    t.match(created.json, { name: 'iris', entry: 'train.py', runtime: 'tf', strategy: 'grid', trials: 9, parallel: 3, metric: 'accuracy', goal: 'max', ram: 2000 });
    t.same(
      ((await api('GET', '/sweeps/iris/trials')).json as Trial[]).map((x) => [x.job, x.params.lr, x.params.units]),
      [0.1, 0.02, 0.005].flatMap((lr, i) => [4, 10, 32].map((units, j) => [`iris${'abcdefghi'[i * 3 + j]}`, lr, units])),
      'nine trials irisa … irisi, the first parameter varying slowest',
    );
    t.equal((await api('PUT', '/sweeps/iris:stop', {})).status, 200);
    t.match(await ended('iris'), { state: 'finished', msg: 'stopped by user' });
    t.equal((await api('DELETE', '/sweeps/iris')).status, 200);
    await gone('iris');
  });

  t.test('a 2 × 2 grid (--space over the file) trains; its best trial becomes a model and an app', async (t) => {
    const body = await createBody('iris', { file, space: JSON.stringify(SMALL) });
    const created = await api('POST', '/sweeps', body);
    t.equal(created.status, 201, created.text);
    const done = await ended('iris');
    const trials = (await api('GET', '/sweeps/iris/trials')).json as Trial[];
    const logs = await Promise.all(trials.map(async (x) => (await api('GET', `/jobs/${x.job}/log`)).text));
    t.match(done, { state: 'finished', progress: 100 }, `the sweep finished (${done.msg ?? 'no msg'})`);
    t.same(
      trials.map((x) => [x.job, x.state, x.epoch]),
      [
        ['irisa', 'finished', trials[0]?.epoch],
        ['irisb', 'finished', trials[1]?.epoch],
        ['irisc', 'finished', trials[2]?.epoch],
        ['irisd', 'finished', trials[3]?.epoch],
      ],
      `every trial finished (logs: ${logs.map((l, i) => `${trials[i]?.job}: ${l.slice(-1500)}`).join('\n')})`,
    );
    for (const [i, x] of trials.entries()) {
      const log = logs[i] ?? '';
      t.match(log, `lr ${x.params.lr} units ${x.params.units} epochs 20`, `${x.job} trained with its own point (${log.slice(0, 300)})`);
      t.ok(x.epoch !== null && x.epoch >= 1 && x.epoch <= 20, `${x.job}'s best epoch is one of its 20 (${x.epoch})`);
    }
    const values = trials.map((x) => x.value ?? -1);
    const best = done.best;
    t.ok(best, 'the sweep names its best trial');
    if (!best) return;
    t.equal(best.value, Math.max(...values), `the best value is the trials' highest accuracy (${values.join(', ')})`);
    t.same(best.params, trials.find((x) => x.job === best.job)?.params, 'with that trial’s point');

    // `mlp model create iris --src <trial>`, `mlp app create iris --model iris --cpu 0.5 --ram 500`.
    t.equal((await api('POST', '/models', { name: 'iris', src: best.job })).status, 201);
    t.match(await modelSettled(p, token, 'alice', 'iris'), { state: 'ready' });
    t.equal((await api('POST', '/apps', { name: 'iris', model_name: 'iris', cpu: SERVER_CPU, ram: SERVER_RAM })).status, 201);
    const app = await until(
      async () => (await api('GET', '/apps/iris')).json as { state: string; msg?: string },
      (a) => a.state !== 'creating',
      'app iris leaving creating',
      { before: () => reconcile(p, 'apps'), ms: 200, tries: 600 },
    );
    t.match(app, { state: 'ready' }, `app iris is ready (msg: ${app.msg ?? 'none'})`);
    const rows = await call(p.appUrl, 'POST', '/alice/iris/v1/models/iris:predict', { token, body: { instances: X } });
    t.equal(rows.status, 200, `:predict through the app gateway (${rows.text.slice(0, 300)})`);
    const predictions = (rows.json as { predictions: unknown[] }).predictions;
    const right = rightOf(predictions.map(classOf));
    t.ok(right >= 135, `the best trial's model classifies ${right} of 150 rows right (≥ 90 %)`);
    t.equal((await api('DELETE', '/apps/iris')).status, 200);
  });
});
