import type { Test } from 'tap';
import type { Bus, Message } from '../../shared/bus/port.js';

/** Collects messages and lets a test wait until a condition on them holds. */
export function collector() {
  const seen: Message[] = [];
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  return {
    seen,
    push(msg: Message) {
      seen.push(msg);
      for (const w of [...waiters])
        if (w.check()) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
    },
    until(check: () => boolean, ms = 30000): Promise<void> {
      if (check()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out; saw ${seen.length} messages: ${seen.map((m) => m.value).join(',')}`)), ms);
        waiters.push({ check, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
  };
}

/** The Bus port's contract; every adapter runs it. `topicName` gives fresh topic names. */
export function busConformance(t: Test, subject: { open(): Promise<Bus>; topicName(label: string): string }): void {
  let bus: Bus;
  t.before(async () => {
    bus = await subject.open();
  });
  t.teardown(() => bus.close());

  t.test('published messages reach a subscriber with key, value and headers, in order per key', async (t) => {
    const topic = subject.topicName('order');
    await bus.ensureTopics([topic]);
    await bus.publish(
      topic,
      [1, 2, 3].map((i) => ({ key: 'alice/train', value: `m${i}`, headers: { 'mlp-job-id': 'j1' } })),
    );
    const got = collector();
    const sub = await bus.subscribe({ topic, group: `g-${topic}`, fromBeginning: true }, async (m) => got.push(m));
    await got.until(() => got.seen.length >= 3);
    await sub.stop();
    t.same(
      got.seen.map((m) => m.value),
      ['m1', 'm2', 'm3'],
    );
    t.equal(got.seen[0]?.key, 'alice/train');
    t.equal(got.seen[0]?.headers['mlp-job-id'], 'j1');
  });

  // Each case twice: committing after each message (the default) and once per batch (the metrics relay's).
  for (const commit of ['message', 'batch'] as const) {
    const of = commit === 'batch' ? ' (commit per batch)' : '';
    t.test(`a batch of 1000 in one publish arrives whole and in order, each with its key and headers${of}`, async (t) => {
      const topic = subject.topicName(`batch-${commit}`);
      await bus.ensureTopics([topic]);
      const batch = Array.from({ length: 1000 }, (_, i) => ({ key: 'alice/train', value: JSON.stringify({ epoch: i }), headers: { 'mlp-job-id': 'j1' } }));
      await bus.publish(topic, batch);
      const got = collector();
      const sub = await bus.subscribe({ topic, group: `g-${topic}`, fromBeginning: true, commit }, async (m) => got.push(m));
      await got.until(() => got.seen.length >= batch.length);
      // One more after them: a message handled twice (fetched again) would come before it.
      const end = { key: 'alice/train', value: 'end', headers: { 'mlp-job-id': 'j1' } };
      await bus.publish(topic, [end]);
      await got.until(() => got.seen.some((m) => m.value === 'end'));
      await sub.stop();
      t.equal(got.seen.length, batch.length + 1, 'nothing more, nothing less');
      t.same(
        got.seen.map((m) => m.value),
        [...batch, end].map((m) => m.value),
        'in the order published',
      );
      t.ok(
        got.seen.every((m) => m.key === 'alice/train' && m.headers['mlp-job-id'] === 'j1'),
        'every one with the key and the job id header',
      );
    });

    t.test(`a failing handler gets the message again; nothing after it is skipped${of}`, async (t) => {
      const topic = subject.topicName(`retry-${commit}`);
      await bus.ensureTopics([topic]);
      await bus.publish(topic, [
        { key: 'k', value: 'a' },
        { key: 'k', value: 'b' },
      ]);
      const got = collector();
      let failures = 0;
      const sub = await bus.subscribe({ topic, group: `g-${topic}`, fromBeginning: true, commit }, async (m) => {
        if (m.value === 'a' && failures < 2) {
          failures += 1;
          throw new Error('transient');
        }
        got.push(m);
      });
      await got.until(() => got.seen.length >= 2);
      await sub.stop();
      t.equal(failures, 2);
      t.same(
        got.seen.map((m) => m.value),
        ['a', 'b'],
      );
    });

    t.test(`a consumer restarted in the same group resumes after the last handled message${of}`, async (t) => {
      const topic = subject.topicName(`resume-${commit}`);
      const group = `g-${topic}`;
      await bus.ensureTopics([topic]);
      await bus.publish(
        topic,
        Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: `v${i}` })),
      );
      const first = collector();
      const sub1 = await bus.subscribe({ topic, group, fromBeginning: true, commit }, async (m) => first.push(m));
      await first.until(() => first.seen.length >= 5);
      await sub1.stop();
      await bus.publish(
        topic,
        Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: `v${i + 5}` })),
      );
      const second = collector();
      const sub2 = await bus.subscribe({ topic, group, fromBeginning: true, commit }, async (m) => second.push(m));
      await second.until(() => second.seen.length >= 5);
      await sub2.stop();
      const all = [...first.seen, ...second.seen].map((m) => m.value);
      t.same([...new Set(all)].sort(), Array.from({ length: 10 }, (_, i) => `v${i}`).sort(), 'every message handled');
      t.same(
        second.seen.map((m) => m.value),
        ['v5', 'v6', 'v7', 'v8', 'v9'],
        'committed ones are not handled again',
      );
    });
  }
}
