import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { buffered, createMetricsPublisher, type EpochMetrics, type MetricsPublisher } from '../../templates/runtime-tf/metrics-publisher.js';
import { Refused } from '../../templates/runtime-tf/platform-client.js';
import type { JobEnv } from '../../templates/runtime-tf/job-env.js';

// The runtime's metrics buffer (issue 13: a short gateway outage neither ends a job nor loses its
// metrics): in order, retried with backoff through faults, a refusal still reaches the caller,
// and a full buffer drops the oldest waiting metric, never the one in flight.

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
      got.push((JSON.parse(body) as EpochMetrics).epoch);
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
  await t.rejects(refusing.publish(m(99)), { message: 'no such job' }, 'a 403 is the caller\'s to see');
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
