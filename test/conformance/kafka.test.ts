import { spawn } from 'node:child_process';
import t from 'tap';
import { createKafkaBus } from '../../shared/bus/kafka.js';
import type { Bus } from '../../shared/bus/port.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { collector } from './bus-suite.js';

// Kafka-only behaviour: an independent producer (Debian's kcat) and restarts mid-stream.
const brokers = process.env.MLP_TEST_KAFKA_BROKERS;
if (!brokers) {
  t.plan(0, 'MLP_TEST_KAFKA_BROKERS not set (npm test sets it)');
} else {
  const log = createLogger({ component: 'test', sinks: [memorySink()] });
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const open = (): Promise<Bus> => createKafkaBus({ brokers: brokers.split(','), clientId: 'kafka-test', log, retryMs: 50, partitions: 3 });

  t.test('a message produced by kcat, as a training pod would, reaches the Bus adapter', async (t) => {
    const bus = await open();
    t.teardown(() => bus.close());
    const topic = `kcat.${run}`;
    await bus.ensureTopics([topic]);
    const metric = JSON.stringify({ user: 'alice', name: 'train', epoch: 1, accuracy: 0.9, loss: 0.2, progress: 10 });
    await new Promise<void>((resolve, reject) => {
      const kcat = spawn('kcat', ['-b', brokers, '-t', topic, '-P', '-K', '|', '-H', 'mlp-job-id=j-123'], { stdio: ['pipe', 'inherit', 'pipe'] });
      let err = '';
      kcat.stderr.on('data', (d: Buffer) => (err += d.toString()));
      kcat.on('error', reject);
      kcat.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kcat exited ${code}: ${err}`))));
      kcat.stdin.end(`alice/train|${metric}\n`);
    });
    const got = collector();
    const sub = await bus.subscribe({ topic, group: `g-${topic}`, fromBeginning: true }, async (m) => got.push(m));
    await got.until(() => got.seen.length >= 1);
    await sub.stop();
    t.equal(got.seen[0]?.key, 'alice/train');
    t.same(JSON.parse(got.seen[0]?.value ?? '{}'), JSON.parse(metric));
    t.equal(got.seen[0]?.headers['mlp-job-id'], 'j-123');
  });

  t.test('restarting the consumer mid-stream loses no message (new client each time)', async (t) => {
    const producer = await open();
    t.teardown(() => producer.close());
    const topic = `midstream.${run}`;
    const group = `g-${topic}`;
    await producer.ensureTopics([topic]);
    const total = 300;
    // The producer keeps publishing, across partitions, while consumers come and go.
    const publishing = (async () => {
      for (let i = 0; i < total; i += 10) {
        await producer.publish(
          topic,
          Array.from({ length: 10 }, (_, j) => ({ key: `k${(i + j) % 7}`, value: String(i + j) })),
        );
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    const handled = new Set<string>();
    let duplicates = 0;
    for (let round = 0; round < 4; round++) {
      const bus = await open();
      const got = collector();
      const sub = await bus.subscribe({ topic, group, fromBeginning: true }, async (m) => {
        if (handled.has(m.value)) duplicates += 1;
        handled.add(m.value);
        got.push(m);
      });
      await got.until(() => got.seen.length >= 40);
      await sub.stop();
      await bus.close();
    }
    await publishing;
    const bus = await open();
    t.teardown(() => bus.close());
    const rest = collector();
    const sub = await bus.subscribe({ topic, group, fromBeginning: true }, async (m) => {
      if (handled.has(m.value)) duplicates += 1;
      handled.add(m.value);
      rest.push(m);
    });
    await rest.until(() => handled.size >= total, 60000);
    await sub.stop();
    t.equal(handled.size, total, 'every produced message was handled');
    t.equal(duplicates, 0, 'and, since stop() commits what it handled, none twice');
  });
}
