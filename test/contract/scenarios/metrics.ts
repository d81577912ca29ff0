import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { storagePaths } from '../../../shared/storage/paths.js';
import { reconcile } from '../../helpers/models.js';
import { openMetricsSocket } from '../../helpers/metrics-socket.js';
import { call } from '../../helpers/platform.js';
import type { Target } from '../../helpers/target.js';

// docs/api.md#job-metrics: metrics published for a running job are stored (one per epoch) and pushed to its
// sockets, history first; metrics of jobs not running, or of an earlier job of the same name, are dropped.
interface Metric {
  epoch: number;
  accuracy: number;
  loss: number;
  progress: number;
}

const socket = (url: string) => openMetricsSocket<Metric>(url);

/** Runs on a target whose bus is in-process or Kafka (then a producer of its own publishes too). */
export async function metricsScenario(t: Test, p: Target): Promise<void> {
  const kafka = p.kafkaBrokers;
  await call(p.url, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  await call(p.url, 'POST', '/api/v1/users', { body: { username: 'bob', password: 'password1' } });
  const token = (await call(p.url, 'GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const bob = (await call(p.url, 'GET', '/api/v1/users/bob/token', { basic: ['bob', 'password1'] })).json as string;
  const home = storagePaths(p.root).home('alice');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'wait.mjs'), 'setInterval(() => {}, 1000)');
  t.equal((await call(p.url, 'POST', '/api/v1/users/alice/jobs', { token, body: { name: 'train', entry: 'wait.mjs', cpu: 0.5 } })).status, 201);
  const publish = (m: Partial<Metric>, url = p.url) => call(url, 'POST', '/api/v1/users/alice/job_metrics/train', { token, body: { epoch: 0, accuracy: 0.5, loss: 1, progress: 10, ...m } });
  const listed = async () => (await call(p.url, 'GET', '/api/v1/users/alice/job_metrics/train', { token })).json as Metric[];
  const wsUrl = () => `${p.url.replace('http', 'ws')}/api/v1/users/alice/job_metrics/train?token=${token}`;

  for (const epoch of [1, 0, 2]) t.equal((await publish({ epoch, accuracy: epoch / 10 })).status, 200);
  for (let i = 0; i < 100 && (await listed()).length < 3; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(
    (await listed()).map((m) => m.epoch),
    [0, 1, 2],
    'stored, in epoch order',
  );

  const s = await socket(wsUrl());
  await s.until(3);
  t.same(
    s.got.map((m) => m.epoch),
    [0, 1, 2],
    'on open: the history, one message each, in epoch order',
  );
  await publish({ epoch: 3, accuracy: 0.9 });
  await s.until(4);
  t.match(s.got[3], { user: 'alice', name: 'train', epoch: 3, accuracy: 0.9 }, 'then each new one as it arrives');
  await publish({ epoch: 3, accuracy: 0.95 });
  await s.until(5);
  for (let i = 0; i < 50 && (await listed()).find((m) => m.epoch === 3)?.accuracy !== 0.95; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal((await listed()).filter((m) => m.epoch === 3).length, 1, 'a repeated epoch replaces the stored one');

  // The batch form, as a script publishes it with its job token: every metric reaches the socket, in order.
  const uid = ((await p.store.collection('job').get('alice/train')) as { uid: string } | null)?.uid ?? '';
  const jobToken = (await p.tokens.issue({ sub: 'alice', kind: 'job', job: 'train', job_id: uid })).token;
  const batch = Array.from({ length: 50 }, (_, i) => ({ epoch: 10 + i, accuracy: i / 50, loss: 1 - i / 50, progress: 20 }));
  const refused = await call(p.url, 'POST', '/api/v1/users/alice/job_metrics/train', { token: jobToken, body: [...batch.slice(0, 5), { ...batch[5], epoch: -1 }] });
  t.match([refused.status, refused.json], [403, { msg: /^element 5 of the body: field "epoch"/ }], 'a batch with a bad element is refused, naming it');
  t.equal((await call(p.url, 'POST', '/api/v1/users/alice/job_metrics/train', { token: jobToken, body: batch })).status, 200, 'a batch of 50 with the job token');
  await s.until(5 + batch.length);
  t.same(
    s.got.slice(5).map((m) => m.epoch),
    batch.map((m) => m.epoch),
    'the batch arrives on the socket whole and in order, none of the refused one',
  );
  t.match(s.got.at(-1), { user: 'alice', name: 'train', ...batch.at(-1) }, 'user and job from the token');
  // The relay stores a batch in one write, one point per epoch: of an epoch repeated within it, the
  // last wins (on the socket too, unless the first was already on its way: a waiting repeat replaces it).
  const twice = [60, 61, 60].map((epoch, i) => ({ epoch, accuracy: i / 10, loss: 1, progress: 30 }));
  t.equal((await call(p.url, 'POST', '/api/v1/users/alice/job_metrics/train', { token: jobToken, body: twice })).status, 200);
  await s.until(5 + batch.length + 2);
  const last60 = () => s.got.filter((m) => m.epoch === 60).at(-1);
  for (let i = 0; i < 100 && last60()?.accuracy !== 0.2; i++) await new Promise((r) => setTimeout(r, 50));
  t.same(last60(), { user: 'alice', name: 'train', ...twice[2] }, 'the socket was last sent the last of the repeated epoch');
  const stored = (await listed()).filter((m) => m.epoch >= 60);
  t.same(
    stored.map((m) => [m.epoch, m.accuracy]),
    [
      [60, 0.2],
      [61, 0.1],
    ],
    'one point per epoch stored, the last of the repeated one',
  );
  s.ws.close();

  await t.rejects(socket(`${p.url.replace('http', 'ws')}/api/v1/users/alice/job_metrics/train`), /refused with 403/, 'no token: refused before the upgrade');
  await t.rejects(socket(`${p.url.replace('http', 'ws')}/api/v1/users/alice/job_metrics/train?token=${bob}`), /refused with 403/, "another user's token: refused");

  // A metric with another job id (a late message of an earlier job of this name) is dropped.
  await p.bus.publish(p.metricsTopic, [{ key: 'alice/train', value: JSON.stringify({ epoch: 7, accuracy: 0, loss: 0, progress: 70 }), headers: { 'mlp-job-id': 'an-earlier-job' } }]);

  if (kafka) {
    // A training pod publishing straight to Kafka, with an independent client.
    await new Promise<void>((resolve, reject) => {
      const kcat = spawn('kcat', ['-b', kafka, '-t', p.metricsTopic, '-P', '-K', '|', '-H', `mlp-job-id=${uid}`], { stdio: ['pipe', 'inherit', 'inherit'] });
      kcat.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`))));
      kcat.stdin.end(`alice/train|${JSON.stringify({ user: 'alice', name: 'train', epoch: 4, accuracy: 0.97, loss: 0.1, progress: 50 })}\n`);
    });
    for (let i = 0; i < 100 && !(await listed()).some((m) => m.epoch === 4); i++) await new Promise((r) => setTimeout(r, 50));
    t.ok(
      (await listed()).some((m) => m.epoch === 4),
      'a metric produced by kcat was stored',
    );
    // The relay restarts (a new consumer in its group); a metric published while it is down is not lost.
    const restart = await p.stopRelay();
    await new Promise<void>((resolve, reject) => {
      const kcat = spawn('kcat', ['-b', kafka, '-t', p.metricsTopic, '-P', '-K', '|', '-H', `mlp-job-id=${uid}`], { stdio: ['pipe', 'inherit', 'inherit'] });
      kcat.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}`))));
      kcat.stdin.end(`alice/train|${JSON.stringify({ epoch: 5, accuracy: 0.98, loss: 0.05, progress: 60 })}\n`);
    });
    await restart();
    for (let i = 0; i < 100 && !(await listed()).some((m) => m.epoch === 5); i++) await new Promise((r) => setTimeout(r, 100));
    t.ok(
      (await listed()).some((m) => m.epoch === 5),
      'the restarted relay consumed what was published while it was down',
    );
  }
  t.notOk(
    (await listed()).some((m) => m.epoch === 7),
    "the earlier job's metric was dropped",
  );

  await call(p.url, 'PUT', '/api/v1/users/alice/jobs/train:stop', { token, body: {} });
  for (let i = 0; i < 50; i++) await reconcile(p, 'jobs');
  await publish({ epoch: 9 });
  await new Promise((r) => setTimeout(r, 300));
  t.notOk(
    (await listed()).some((m) => m.epoch === 9),
    'a metric of a job that no longer runs is dropped',
  );
  t.equal((await call(p.url, 'DELETE', '/api/v1/users/alice/jobs/train', { token })).status, 200);
  await reconcile(p, 'jobs');
  const gone = await call(p.url, 'GET', '/api/v1/users/alice/job_metrics/train', { token });
  t.equal(gone.status, 403, 'deleting the job deletes its metrics');
}
