import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { buffered, createMetricsPublisher, MAX_BATCH, type EpochMetrics, type MetricsPublisher } from '../../templates/runtime-tf/metrics-publisher.js';
import { Refused } from '../../templates/runtime-tf/platform-client.js';
import type { JobEnv } from '../../templates/runtime-tf/job-env.js';

// The runtime's metrics buffer (a short gateway outage neither ends a job nor loses its
// metrics): in order, retried with backoff through faults, a refusal still reaches the caller,
// and a full buffer drops the oldest waiting metric, never the one in flight. What waits goes as
// one batch (a JSON array, at most MAX_BATCH per POST).

const m = (epoch: number): EpochMetrics => ({ epoch, accuracy: 0.5, loss: 0.5, progress: 1 });

t.test('through a real HTTP outage: publish does not fail, every metric arrives in order', async (t) => {
  const got: number[] = [];
  let down = true;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (down) {
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"msg":"restarting"}');
        return;
      }
      const sent = JSON.parse(body) as EpochMetrics | EpochMetrics[];
      got.push(...(Array.isArray(sent) ? sent : [sent]).map((x) => x.epoch));
      res.writeHead(200, { 'content-type': 'application/json' }).end('""');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const env = { api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', user: 'alice', job: 'train', jobId: 'x' } as JobEnv;
  const publisher = createMetricsPublisher(env);
  for (let epoch = 1; epoch <= 5; epoch++) await publisher.publish(m(epoch)); // resolves though the platform answers 503
  t.same(got, [], 'nothing arrived while the platform was down');
  down = false;
  await publisher.publish(m(6));
  await publisher.close(); // waits for the buffer
  t.same(got, [1, 2, 3, 4, 5, 6], 'all of them, in order, once it was back');
});

t.test('a refusal reaches the caller; a full buffer drops the oldest waiting', async (t) => {
  const sent: number[] = [];
  let fail = 0;
  let gate: (() => void) | undefined;
  const inner: MetricsPublisher = {
    async publish(x) {
      if (x.epoch === 99) throw new Refused('no such job');
      if (fail > 0) {
        fail -= 1;
        throw new Error('ECONNREFUSED');
      }
      if (x.epoch === 1) await new Promise<void>((r) => (gate = r)); // stays in flight
      sent.push(x.epoch);
    },
    close: async () => undefined,
  };
  const refusing = buffered(inner, 3);
  await t.rejects(refusing.publish(m(99)), { message: 'no such job' }, "a 403 is the caller's to see");
  const first = refusing.publish(m(1));
  for (let epoch = 2; epoch <= 6; epoch++) void refusing.publish(m(epoch));
  while (!gate) await new Promise((r) => setTimeout(r, 5));
  gate();
  await first;
  await refusing.close();
  t.same(sent, [1, 4, 5, 6], 'epoch 1 was in flight and kept; of 2–6 the buffer of 3 kept the newest');
  fail = 1;
  await refusing.publish(m(7)); // a fault: resolves, retried after 250 ms
  await refusing.close();
  t.same(sent.at(-1), 7, 'retried after the fault');
});

t.test('what waits goes in batches of at most MAX_BATCH per POST, in order, once the platform is back', async (t) => {
  const posts: unknown[] = [];
  let down = true;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (down) return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"msg":"restarting"}');
      posts.push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('""');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const env = { api: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', user: 'alice', job: 'train', jobId: 'x' } as JobEnv;
  const publisher = createMetricsPublisher(env);
  const total = 2 * MAX_BATCH + 500;
  await publisher.publish(m(0)); // refused by the outage: from now on publish() does not wait
  for (let epoch = 1; epoch < total; epoch++) await publisher.publish(m(epoch));
  down = false;
  await publisher.close();
  t.same(
    posts.map((p) => (Array.isArray(p) ? p.length : 1)),
    [MAX_BATCH, MAX_BATCH, 500],
    'three POSTs: two full batches and the rest',
  );
  t.same(
    posts.flat().map((x) => (x as EpochMetrics).epoch),
    Array.from({ length: total }, (_, i) => i),
    'every metric, in order',
  );
  t.same((posts[0] as EpochMetrics[])[0], m(0), 'each element is a plain JobMetrics');

  // All is well again: one awaited metric goes alone, as an object.
  await publisher.publish(m(3));
  await publisher.close();
  t.same(posts.at(-1), m(3));
});

t.test('metrics published while one is in flight go together next; a refused batch rejects each caller', async (t) => {
  const sent: (number | number[])[] = [];
  let gate: (() => void) | undefined;
  let refuse = false;
  const inner: MetricsPublisher = {
    async publish(x) {
      if (x.epoch === 1) await new Promise<void>((r) => (gate = r));
      sent.push(x.epoch);
    },
    async publishBatch(xs) {
      if (refuse) throw new Refused('this job token belongs to an earlier job named train');
      sent.push(xs.map((x) => x.epoch));
    },
    close: async () => undefined,
  };
  const publisher = buffered(inner);
  const opened = async () => {
    while (!gate) await new Promise((r) => setTimeout(r, 5));
    const open = gate;
    gate = undefined;
    open();
  };
  const first = publisher.publish(m(1));
  const waiting = [2, 3, 4].map((epoch) => publisher.publish(m(epoch)));
  await opened();
  await Promise.all([first, ...waiting]);
  t.same(sent, [1, [2, 3, 4]], 'the three that waited went in one batch, each caller resolved once it was sent');

  refuse = true;
  const again = publisher.publish(m(1));
  const refused = [5, 6].map((epoch) =>
    publisher.publish(m(epoch)).then(
      () => undefined,
      (err: unknown) => err,
    ),
  );
  await opened();
  await again;
  for (const err of await Promise.all(refused)) {
    t.ok(err instanceof Refused, 'each caller of the refused batch sees the refusal');
    t.match(err, { message: /earlier job/ });
  }
  await publisher.close();
});
