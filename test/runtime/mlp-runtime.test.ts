import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { jobIdOf, readJobEnv } from '../../templates/runtime-tf/job-env.js';
import { close, heartbeat, publishMetrics, Refused, trainingCallbacks } from '../../templates/runtime-tf/mlp-runtime.js';

// @mlp/runtime against a stand-in gateway: what a script's metrics and heartbeats look like on
// the wire (the heartbeat and metrics routes), retries of faults and refusals.
const token = (claims: Record<string, unknown>) => ['{"alg":"HS256"}', JSON.stringify(claims), 'sig'].map((s, i) => (i < 2 ? Buffer.from(s).toString('base64url') : s)).join('.');
const JOB_TOKEN = token({ sub: 'alice', kind: 'job', job: 'train', job_id: 'uid-7' });

interface Seen {
  method: string;
  url: string;
  auth: string;
  body: unknown;
}

t.test('the job id comes from the job token', async (t) => {
  t.equal(jobIdOf(JOB_TOKEN), 'uid-7');
  t.throws(() => jobIdOf('opaque'), /not a JWT/);
  t.throws(() => jobIdOf(token({ sub: 'alice', kind: 'user' })), /no job_id/);
  t.equal(readJobEnv({}), undefined, 'outside a job: no environment');
  const env = readJobEnv({ MLP_API: 'http://h:1/', MLP_USER: 'alice', MLP_JOB: 'train', MLP_TOKEN: JOB_TOKEN, MLP_KAFKA_BROKERS: 'a:1, b:2' });
  t.match(env, { api: 'http://h:1', jobId: 'uid-7' });
  t.notOk(env && 'kafka' in env, 'a broker address is never used: metrics go through the API');
});

t.test('metrics and heartbeats over HTTP with the job token', async (t) => {
  const seen: Seen[] = [];
  const answers: [number, string][] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization ?? '', body: JSON.parse(text) });
      const [status, body] = answers.shift() ?? [200, '""'];
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  Object.assign(process.env, { MLP_API: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, MLP_USER: 'alice', MLP_JOB: 'train', MLP_TOKEN: JOB_TOKEN });
  delete process.env.MLP_KAFKA_BROKERS;

  await publishMetrics({ epoch: 1, accuracy: 0.5, loss: 0.9, progress: 10 });
  t.same(seen.shift(), { method: 'POST', url: '/api/v1/users/alice/job_metrics/train', auth: `Bearer ${JOB_TOKEN}`, body: { epoch: 1, accuracy: 0.5, loss: 0.9, progress: 10 } });
  await heartbeat(20);
  t.same(seen.shift(), { method: 'PUT', url: '/api/v1/users/alice/jobs/train:heartbeat', auth: `Bearer ${JOB_TOKEN}`, body: { state: 'running', progress: 20 } });

  answers.push([503, '{"msg":"store unavailable"}']);
  await publishMetrics({ epoch: 2, accuracy: 0.6, loss: 0.8, progress: 20 });
  // On a fault the metric stays buffered and publish() returns (the job goes on); the buffer retries.
  for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(seen.length, 2, 'a fault is retried');
  t.same(seen[1]?.body, { epoch: 2, accuracy: 0.6, loss: 0.8, progress: 20 }, 'the same metric again');
  seen.length = 0;

  answers.push([403, '{"msg":"job train is finished"}']);
  await t.rejects(heartbeat(30), new Refused('PUT /api/v1/users/alice/jobs/train:heartbeat refused: job train is finished'), 'a refusal is not retried and says why');
  t.equal(seen.length, 1);
  seen.length = 0;

  await t.rejects(publishMetrics({ epoch: 3, accuracy: Number.NaN, loss: 1, progress: 30 }), /accuracy must be a finite number/, 'NaN never goes out as null');
  await t.rejects(publishMetrics({ epoch: 1.5, accuracy: 1, loss: 1, progress: 30 }), /epoch must be an integer/);
  await t.rejects(heartbeat(101), /progress must be an integer from 0 to 100/);
  t.equal(seen.length, 0, 'invalid values are refused before sending');

  const callbacks = trainingCallbacks({ epochs: 4 });
  await callbacks.onEpochEnd(1, { acc: 0.75, loss: 0.4 });
  t.same(
    seen.map((s) => s.body),
    [
      { epoch: 2, accuracy: 0.75, loss: 0.4, progress: 50 },
      { state: 'running', progress: 50 },
    ],
    'fit callbacks: metric then heartbeat, epochs from 1',
  );
  await t.rejects(callbacks.onEpochEnd(2, { loss: 0.3 }), /no "accuracy".*metrics: \['accuracy'\]/);
  await callbacks.onTrainEnd();
  await close();
});
