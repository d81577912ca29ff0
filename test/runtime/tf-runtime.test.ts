import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { storagePaths } from '../../shared/storage/paths.js';
import { loadModelFromFolder } from '../../templates/model-server-tf/load-model.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { until as poll } from '../helpers/poll.js';

// Runtime tf through the whole platform (docs/api.md#jobs, #job-metrics): a job's entry in the user's home,
// far from the platform's node_modules, imports @tensorflow/tfjs and @mlp/runtime without an
// install, trains on a dataset uploaded by WebDAV, publishes a metric per epoch and saves ckpt/.
tf.enableProdMode(); // no "install tfjs-node" banner in the test output
const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/iris');
const SPECIES = ['setosa', 'versicolor', 'virginica'];

interface Metric {
  epoch: number;
  accuracy: number;
  loss: number;
  progress: number;
}

async function platformWithAlice(t: Test, env: Record<string, string> = {}) {
  const p: TestPlatform = await startTestPlatform({ MLP_TENANT_CPU: '2', MLP_TENANT_GPU: '0', MLP_TENANT_RAM: '4000', ...env });
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const put = async (urlPath: string, body: Buffer | string) => {
    const res = await fetch(p.url + urlPath, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body });
    return { status: res.status, text: await res.text() };
  };
  const reconcile = () => p.call('POST', '/api/v1/reconcile/jobs', { token: p.deps.serviceToken });
  const until = async (job: string, states: string[]) =>
    (await poll(
      async () => (await p.call('GET', `/api/v1/users/alice/jobs/${job}`, { token })).json as { state: string },
      (j) => states.includes(j.state),
      `job ${job} reaching ${states.join('/')}`,
      { ms: 100, before: reconcile },
    )) as Record<string, unknown>;
  const metrics = async (job: string, count: number) => {
    let list: Metric[] = [];
    for (let i = 0; i < 100; i++) {
      list = (await p.call('GET', `/api/v1/users/alice/job_metrics/${job}`, { token })).json as Metric[];
      if (list.length >= count) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return list;
  };
  const log = async (job: string) => (await p.call('GET', `/api/v1/users/alice/jobs/${job}/log`, { token })).text;
  return { p, token, put, until, metrics, log };
}

async function irisJob(t: Test, env: Record<string, string>) {
  const { p, token, put, until, metrics, log } = await platformWithAlice(t, env);
  const csv = readFileSync(path.join(EXAMPLE, 'data/iris.csv'));
  t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token, body: { name: 'iris', size: csv.length } })).status, 201);
  t.equal((await put('/data/alice/iris/iris.csv', csv)).status, 201, 'the CSV is uploaded by WebDAV');
  t.equal((await p.call('PUT', '/api/v1/users/alice/datasets/iris:heartbeat', { token, body: { state: 'ready', progress: 100 } })).status, 200);
  t.equal((await put('/data/alice/.home/train.mjs', readFileSync(path.join(EXAMPLE, 'train.mjs')))).status, 201, 'the script goes to the home');

  t.equal((await p.call('POST', '/api/v1/users/alice/jobs', { token, body: { name: 'iris', entry: 'train.mjs', cpu: 1 } })).status, 201);
  const done = await until('iris', ['finished', 'error']);
  const output = await log('iris');
  t.match(done, { state: 'finished', progress: 100 }, 'the job finished');
  if (done.state !== 'finished') t.comment(output);
  t.match(output, /held-out accuracy on raw measurements/, 'the script ran to its end');

  const list = await metrics('iris', 40);
  t.same(
    list.map((m) => m.epoch),
    Array.from({ length: 40 }, (_, i) => i + 1),
    'one metric per epoch, numbered from 1',
  );
  const first = list[0];
  const last = list[list.length - 1];
  t.ok(first && last && last.accuracy > first.accuracy, `accuracy rose (${first?.accuracy} → ${last?.accuracy})`);
  t.ok(last && last.accuracy > 0.9, `final training accuracy above 90% (${last?.accuracy})`);
  t.ok(first && last && last.loss < first.loss, 'loss fell');
  t.equal(last?.progress, 100);

  const ckpt = path.join(storagePaths(p.root).job('alice', 'iris'), 'ckpt');
  t.ok(existsSync(path.join(ckpt, 'model.json')), 'ckpt/ holds model.json');
  t.ok(statSync(path.join(ckpt, 'weights.bin')).size > 0, 'and its weights');
  const model = await loadModelFromFolder(ckpt);
  const rows = csv
    .toString('utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const predicted = tf.tidy(() => (model.predict(tf.tensor2d(rows.map((r) => r.slice(0, 4).map(Number)))) as tf.Tensor).argMax(1).arraySync() as number[]);
  const right = predicted.filter((p, i) => SPECIES[p] === rows[i]?.[4]).length;
  t.ok(right / rows.length > 0.9, `the saved model classifies raw measurements: ${right} of ${rows.length} right`);
}

t.test('the iris example trains as a job; metrics by POST', (t) => irisJob(t, {}));

const brokers = process.env.MLP_TEST_KAFKA_BROKERS;
t.test('the iris example trains as a job on a platform with Kafka: metrics through the API onto Kafka', { skip: brokers ? false : 'MLP_TEST_KAFKA_BROKERS not set (npm test sets it)' }, (t) =>
  irisJob(t, { MLP_KAFKA_BROKERS: brokers ?? '', MLP_METRICS_TOPIC: `metrics.${process.pid}.${Date.now().toString(36)}` }),
);

t.test('a CommonJS entry requires tfjs; the helper comes by import()', async (t) => {
  const { p, token, put, until, metrics, log } = await platformWithAlice(t);
  const script = `
    const tf = require('@tensorflow/tfjs');
    console.log('tfjs', tf.version.tfjs, typeof module);
    (async () => {
      const { publishMetrics, saveModel } = await import('@mlp/runtime');
      const model = tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2] })] });
      model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      const h = await model.fit(tf.tensor2d([[0, 1], [1, 0]]), tf.tensor2d([[1], [0]]), { epochs: 1 });
      await publishMetrics({ epoch: 0, accuracy: 0, loss: h.history.loss[0], progress: 50 });
      console.log('saved', (await saveModel(model)).files.join(','));
    })().catch((err) => { console.error(err); process.exit(1); });
  `;
  t.equal((await put('/data/alice/.home/old.js', script)).status, 201);
  t.equal((await p.call('POST', '/api/v1/users/alice/jobs', { token, body: { name: 'old', entry: 'old.js', cpu: 0.5 } })).status, 201);
  const done = await until('old', ['finished', 'error']);
  const output = await log('old');
  t.match(done, { state: 'finished' }, 'the job finished');
  if (done.state !== 'finished') t.comment(output);
  t.match(output, `tfjs ${tf.version.tfjs} object`, "require found the platform's tfjs in a CommonJS module");
  t.match(output, 'saved model.json,weights.bin');
  t.match(await metrics('old', 1), [{ epoch: 0, progress: 50 }], 'its metric was stored');
  t.ok(existsSync(path.join(storagePaths(p.root).job('alice', 'old'), 'ckpt', 'model.json')));
});
