// Metrics relay: metrics per second and p99 latency from the bus to 100 WebSocket clients of one
// running job (the relay of shared/metrics/relay.ts, on the embedded store, real `ws` sockets
// over the loopback), as a ratio of the raw consume rate of the same bus (a bare subscriber of
// the same messages), on the in-process bus and on Kafka; then the history replay of one job to
// a new socket (time to the first message and to the last).
//   npm run bench:relay [-- --metrics 5000 --clients 100 --quick --no-kafka]
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';
import { hashPassword } from '../../shared/auth/password.js';
import { loadConfig } from '../../shared/config/load.js';
import { createDeps, type Deps } from '../../shared/wiring/deps.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { MAX_EPOCHS } from '../../shared/metrics/bounds.js';
import { createRelay } from '../../shared/metrics/relay.js';
import { begin } from '../../shared/metrics/store.js';
import { runtimes } from '../../templates/runtimes.js';
import { median, run, say, section, servers } from './lib.js';
import { ratio } from './report.js';

const { values: args } = parseArgs({
  options: { metrics: { type: 'string' }, clients: { type: 'string', default: '100' }, quick: { type: 'boolean', default: false }, 'no-kafka': { type: 'boolean', default: false } },
});
// One metric is kept per epoch and a job has at most MAX_EPOCHS (10,000): that bounds a run and a replay.
const METRICS = Math.min(MAX_EPOCHS, Number(args.metrics ?? (args.quick ? 1000 : 5000)));
const CLIENTS = Number(args.clients);
/** Published but not yet seen by the sockets (the relay keeps 1000 waiting per job): latency is measured at this depth. */
const WINDOW = 100;

run('relay', async () => {
  const s = section('relay', `Metrics relay to ${CLIENTS} WebSocket clients`);
  const infra = args['no-kafka'] ? undefined : await servers({ kafka: true });
  try {
    await bench('in-process bus', {}, s);
    if (infra?.kafka) await bench('Kafka', { MLP_KAFKA_BROKERS: infra.kafka, MLP_METRICS_TOPIC: `bench.metrics.${process.pid}` }, s);
    else s.note('Kafka: not measured (--no-kafka)');
    s.note(
      `${METRICS} metrics of one running job, at most ${WINDOW} published ahead of the sockets (the relay keeps 1000 waiting per job and drops the oldest past that); metrics are stored in batches (one store write per batch, one point per epoch) before they are pushed; a job holds at most ${MAX_EPOCHS} epochs, so the replay is of ${METRICS} points, not 100,000`,
    );
    s.save();
  } finally {
    await infra?.stop();
  }
});

async function bench(label: string, env: Record<string, string>, s: ReturnType<typeof section>): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bench-relay-'));
  const deps = await createDeps(loadConfig({ MLP_ROOT: root, ...env }), createLogger({ component: 'bench', sinks: [memorySink()] }), { runtimes });
  const relay = createRelay(deps);
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  const listening = new Promise((r) => wss.once('listening', r));
  const sockets: WebSocket[] = [];
  try {
    await deps.users.create('bench', await hashPassword('password1'));
    const { token } = await deps.tokens.issue({ sub: 'bench', kind: 'user' });
    const principal = await deps.auth.verifyBearer({ authorization: `Bearer ${token}` });
    await begin(deps, 'bench', 'train', 'j1');
    await relay.start();
    wss.on('connection', (ws) => void relay.attach(ws, 'bench', 'train', principal));
    await listening;
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;

    // The baseline: a bare subscriber of its own group consuming the same messages.
    const rawTopic = `${deps.config.metricsTopic}.raw`;
    await deps.bus.ensureTopics([rawTopic]);
    const raw = await consumeRate(deps, rawTopic);

    const sent = new Map<number, number>();
    const latencies: number[] = [];
    const seen = new Array<number>(CLIENTS).fill(0);
    let onProgress = () => {};
    for (let c = 0; c < CLIENTS; c++) {
      const ws = new WebSocket(url);
      ws.on('message', (data: Buffer) => {
        const { epoch } = JSON.parse(data.toString()) as { epoch: number };
        const at = sent.get(epoch);
        if (at !== undefined) latencies.push(performance.now() - at);
        seen[c] = (seen[c] ?? 0) + 1;
        if (c === 0) onProgress();
      });
      sockets.push(ws);
      await new Promise((r, j) => ws.once('open', r).once('error', j));
    }
    const t0 = performance.now();
    // Published in batches as room opens in the window, so a publish's round trip is not the limit.
    for (let epoch = 0; epoch < METRICS; ) {
      const room = Math.min(WINDOW - (epoch - (seen[0] ?? 0)), METRICS - epoch);
      if (room <= 0) {
        await new Promise<void>((r) => (onProgress = r));
        continue;
      }
      const at = performance.now();
      const batch = Array.from({ length: room }, (_, k) => {
        sent.set(epoch + k, at);
        return metricOf(epoch + k);
      });
      epoch += room;
      await deps.bus.publish(deps.config.metricsTopic, batch);
    }
    const deadline = performance.now() + 120_000;
    while (seen.some((n) => n < METRICS) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - t0) / 1000;
    const delivered = seen.reduce((a, b) => a + b, 0);
    const rate = Math.min(...seen) / seconds;
    const r = ratio(rate, raw, '%');
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? Number.NaN;
    s.figure({ name: `${label}: metrics/s to ${CLIENTS} sockets`, value: rate, unit: 'msg/s', baseline: { name: 'raw consume of the same bus', value: raw }, ratio: r });
    s.figure({ name: `${label}: latency bus to socket, p99`, value: p99, unit: 'ms' });
    s.figure({ name: `${label}: latency bus to socket, p50`, value: median(latencies), unit: 'ms' });
    if (delivered < METRICS * CLIENTS) s.note(`${label}: ${METRICS * CLIENTS - delivered} of ${METRICS * CLIENTS} socket messages did not arrive within 120 s`);

    // Replay: a new socket gets the stored history first.
    const t1 = performance.now();
    const replay = new WebSocket(url);
    sockets.push(replay);
    let first = Number.NaN;
    await new Promise<void>((resolve, reject) => {
      let n = 0;
      replay.on('message', () => {
        if (n++ === 0) first = performance.now() - t1;
        if (n === METRICS) resolve();
      });
      replay.once('error', reject);
      setTimeout(() => reject(new Error(`the replay sent ${n} of ${METRICS} in 60 s`)), 60_000).unref();
    });
    const last = performance.now() - t1;
    s.figure({ name: `${label}: replay of ${METRICS} points, to first message`, value: first, unit: 'ms' });
    s.figure({ name: `${label}: replay of ${METRICS} points, to last message`, value: last, unit: 'ms' });
  } finally {
    for (const ws of sockets) ws.terminate();
    await new Promise((r) => wss.close(r));
    await relay.stop();
    await deps.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const metricOf = (epoch: number) => ({ key: 'bench/train', value: JSON.stringify({ epoch, accuracy: 0.5, loss: 1, progress: 1 }), headers: { 'mlp-job-id': 'j1' } });

/** Messages per second a bare subscriber consumes of METRICS published ahead on `topic`. */
async function consumeRate(deps: Deps, topic: string): Promise<number> {
  const batch = Array.from({ length: METRICS }, (_, epoch) => metricOf(epoch));
  for (let i = 0; i < batch.length; i += 500) await deps.bus.publish(topic, batch.slice(i, i + 500));
  let n = 0;
  let done = () => {};
  const all = new Promise<void>((r) => (done = r));
  // From the first message on: joining a Kafka consumer group takes seconds and is no part of the rate.
  let t0 = 0;
  const sub = await deps.bus.subscribe({ topic, group: `bench-raw-${process.pid}`, fromBeginning: true }, async () => {
    if (n === 0) t0 = performance.now();
    if (++n === METRICS) done();
  });
  await Promise.race([all, new Promise((_, j) => setTimeout(() => j(new Error(`raw consume: ${n} of ${METRICS} in 120 s`)), 120_000).unref())]);
  const seconds = (performance.now() - t0) / 1000;
  await sub.stop();
  say(`  raw consume: ${METRICS} messages in ${seconds.toFixed(3)} s from the first`);
  return (METRICS - 1) / seconds;
}
