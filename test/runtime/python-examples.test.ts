import { readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { openMetricsSocket } from '../helpers/metrics-socket.js';
import { modelSettled, reconcile, SERVER_CPU, SERVER_RAM } from '../helpers/models.js';
import { until } from '../helpers/poll.js';
import { call, startTestPlatform, type Answer } from '../helpers/platform.js';
import { startNginx } from '../gateway/nginx.js';
import { classOf, davPut, irisDataset, rightOf, X } from '../helpers/iris-rows.js';

// The Python examples (examples/iris-keras, iris-sklearn, iris-torch) as a user runs them on
// `npm start`'s setup — one platform process, the local orchestrator, sandboxed jobs in the
// runtimes' real environments (npm test builds them first) — with the generated Nginx config in
// front of it too: each trains through the API (its metrics arrive on the WebSocket while it
// runs), becomes a model and an app, and classifies the 150 iris rows through the app gateway
// with TensorFlow Serving's :predict and the Open Inference Protocol's infer, directly and
// through Nginx. Nothing here is faked.
const REPO = path.resolve(import.meta.dirname, '../..');

interface Metric {
  epoch: number;
  accuracy: number;
  loss: number;
  progress: number;
}

const EXAMPLES = [
  { name: 'sklearn', dir: 'iris-sklearn', runtime: 'tf', epochs: 60, outputs: ['label', 'probabilities'] },
  { name: 'keras', dir: 'iris-keras', runtime: 'tf', epochs: 40, outputs: 1 },
  { name: 'torch', dir: 'iris-torch', runtime: 'torch', epochs: 60, outputs: 1 },
] as const;

// Three trainings with TensorFlow or PyTorch and three model servers: longer than the 300 s default.
t.setTimeout(30 * 60_000);

t.test('the Python examples: train, watch live, model, app, predict by TF Serving and OIP, direct and through Nginx', async (t) => {
  const p = await startTestPlatform({ MLP_TENANT_CPU: '4', MLP_TENANT_RAM: '8000' });
  t.teardown(() => p.close());
  const nginx = await startNginx({ upstream: p.url.replace(/^http:\/\//, ''), appGateway: true });
  t.teardown(() => nginx.stop());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const put = (urlPath: string, body: Buffer) => davPut(p, token, urlPath, body);
  await irisDataset(t, p, token);

  for (const ex of EXAMPLES) {
    t.test(`${ex.dir} (runtime ${ex.runtime})`, async (t) => example(t, ex));
  }

  async function example(t: Test, ex: (typeof EXAMPLES)[number]): Promise<void> {
    // As in the examples' folders: a script named after a module it imports (keras.py) would shadow it.
    t.equal(await put(`/data/alice/.home/${ex.dir}/train.py`, readFileSync(path.join(REPO, 'examples', ex.dir, 'train.py'))), 201);
    const created = await p.call('POST', '/api/v1/users/alice/jobs', { token, body: { name: ex.name, entry: `${ex.dir}/train.py`, runtime: ex.runtime, cpu: 1, ram: 2000 } });
    t.equal(created.status, 201, created.text);
    const socket = await openMetricsSocket<Metric>(`${p.url.replace(/^http/, 'ws')}/api/v1/users/alice/job_metrics/${ex.name}?token=${token}`);
    t.teardown(() => socket.ws.close());
    let metricsWhileRunning = 0;
    const job = await until(
      async () => (await p.call('GET', `/api/v1/users/alice/jobs/${ex.name}`, { token })).json as { state: string; msg?: string },
      (j) => {
        if (j.state === 'running') metricsWhileRunning = Math.max(metricsWhileRunning, socket.got.length);
        return j.state === 'finished' || j.state === 'error';
      },
      `job ${ex.name} ending`,
      { before: () => reconcile(p, 'jobs'), ms: 200, tries: 3000 },
    );
    const log = (await p.call('GET', `/api/v1/users/alice/jobs/${ex.name}/log`, { token })).text;
    t.match(job, { state: 'finished' }, `the job finished (msg: ${job.msg ?? 'none'}; log: ${log.slice(-1500)})`);
    await socket.until(ex.epochs);
    t.same(
      socket.got.map((m) => m.epoch),
      Array.from({ length: ex.epochs }, (_, i) => i + 1),
      'one metric per epoch, in order, on the WebSocket',
    );
    t.ok(metricsWhileRunning > 0, `metrics arrived while the job ran, not only at its end (${metricsWhileRunning} seen while running)`);
    t.equal(socket.got.at(-1)?.progress, 100);
    t.ok((socket.got.at(-1)?.accuracy ?? 0) > 0.85, `held-out accuracy at the last epoch (${socket.got.at(-1)?.accuracy})`);
    t.match(log, /saved .*model\.onnx/, 'save_model wrote model.onnx and checked it');

    t.equal((await p.call('POST', '/api/v1/users/alice/models', { token, body: { name: ex.name, src: ex.name } })).status, 201);
    t.match(await modelSettled(p, token, 'alice', ex.name), { state: 'ready' });
    t.equal((await p.call('POST', '/api/v1/users/alice/apps', { token, body: { name: ex.name, model_name: ex.name, cpu: SERVER_CPU, ram: SERVER_RAM } })).status, 201);
    const app = await until(
      async () => (await p.call('GET', `/api/v1/users/alice/apps/${ex.name}`, { token })).json as { state: string; msg?: string },
      (a) => a.state !== 'creating',
      `app ${ex.name} leaving creating`,
      { before: () => reconcile(p, 'apps'), ms: 200, tries: 600 },
    );
    t.match(app, { state: 'ready' }, `app ${ex.name} is ready (msg: ${app.msg ?? 'none'})`);

    for (const [via, base] of [
      ['the app gateway', p.appUrl],
      ['Nginx', nginx.appUrl],
    ] as const) {
      const at = `/alice/${ex.name}`;
      const ask = (method: string, rest: string, body?: unknown): Promise<Answer> => call(base, method, at + rest, { token, ...(body === undefined ? {} : { body }) });
      const meta = await ask('GET', `/v2/models/${ex.name}`);
      t.equal(meta.status, 200, `${via}: OIP model metadata (${meta.text})`);
      const { inputs, outputs } = meta.json as { inputs: { name: string; datatype: string; shape: number[] }[]; outputs: { name: string; datatype: string }[] };
      t.equal(inputs.length, 1, `${via}: one input`);
      t.same(inputs[0]?.shape.slice(1), [4], `${via}: 4 measurements a row`);
      if (Array.isArray(ex.outputs)) t.same(outputs.map((o) => o.name).sort(), [...ex.outputs].sort(), `${via}: outputs ${ex.outputs.join(', ')}`);
      else t.equal(outputs.length, 1, `${via}: one output`);
      const tfMeta = await ask('GET', `/v1/models/${ex.name}/metadata`);
      t.equal(tfMeta.status, 200, `${via}: TF Serving metadata`);
      t.match(tfMeta.text, inputs[0]?.name ?? '', `${via}: TF Serving metadata names the input as OIP does`);

      const rows = await ask('POST', `/v1/models/${ex.name}:predict`, { instances: X });
      t.equal(rows.status, 200, `${via}: :predict (${rows.text.slice(0, 300)})`);
      const predictions = (rows.json as { predictions: unknown[] }).predictions;
      const right = rightOf(predictions.map(classOf));
      t.ok(right >= 135, `${via}: TF Serving :predict classifies ${right} of 150 rows right (≥ 90 %)`);

      const infer = await ask('POST', `/v2/models/${ex.name}/infer`, { inputs: [{ name: inputs[0]?.name, shape: [X.length, 4], datatype: 'FP32', data: X.flat() }] });
      t.equal(infer.status, 200, `${via}: OIP infer (${infer.text.slice(0, 300)})`);
      const out = (infer.json as { model_name: string; outputs: { name: string; shape: number[]; datatype: string; data: number[] }[] }).outputs;
      t.equal((infer.json as { model_name: string }).model_name, ex.name);
      const classes = Array.isArray(ex.outputs)
        ? (out.find((o) => o.name === 'label')?.data ?? [])
        : Array.from({ length: X.length }, (_, i) => {
            const probs = out[0]?.data.slice(i * 3, i * 3 + 3) ?? [];
            return probs.indexOf(Math.max(...probs));
          });
      const rightOip = rightOf(classes);
      t.ok(rightOip >= 135, `${via}: OIP infer classifies ${rightOip} of 150 rows right`);
      t.same(classes, predictions.map(classOf), `${via}: OIP and TF Serving answer the same`);

      const bad = await ask('POST', `/v2/models/${ex.name}/infer`, { inputs: [{ name: inputs[0]?.name, shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] });
      t.equal(bad.status, 403, `${via}: a wrong shape is refused (${bad.text})`);
      t.match((bad.json as { msg?: string } | undefined)?.msg ?? '', /4/, `${via}: saying what the model takes`);
    }
    // Ends the example: the app goes, so the next one's server has the resources.
    t.equal((await p.call('DELETE', `/api/v1/users/alice/apps/${ex.name}`, { token })).status, 200);
    await until(
      async () => (await p.call('GET', `/api/v1/users/alice/apps/${ex.name}`, { token })).status,
      (s) => s === 403,
      `app ${ex.name} going away`,
      { before: () => reconcile(p, 'apps'), ms: 200, tries: 600 },
    );
  }
});
