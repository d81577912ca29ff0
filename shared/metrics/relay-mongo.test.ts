import t from 'tap';
import { testDeps } from '../../test/helpers/deps.js';
import { withDatabase } from '../../test/helpers/platform.js';
import { createRelay } from './relay.js';
import { begin, history } from './store.js';

// The relay's batches on the MongoDB-wire store (upsertMany as one bulk write); relay.test.ts has the rest, on the embedded store.
const metric = (epoch: number) => ({ key: '', value: '', headers: {}, offset: String(epoch), partition: 0, topic: 't' });

const mongoUrl = process.env.MLP_TEST_MONGO_URL;
t.test('on the MongoDB-wire store: batches of several jobs stored, one point per epoch, the last wins', { skip: mongoUrl ? false : 'MLP_TEST_MONGO_URL not set (npm test sets it)' }, async (t) => {
  const deps = await testDeps(t, { MLP_MONGO_URL: withDatabase(mongoUrl ?? '', `relay${process.pid}`) });
  for (const name of ['a', 'b']) await begin(deps, 'alice', name, `id-${name}`);
  const relay = createRelay(deps, { recheckMs: 3_600_000, retryMs: 10 });
  await relay.start();
  t.teardown(() => relay.stop());
  const of = (name: string, epoch: number, accuracy: number) => ({
    ...metric(epoch),
    key: `alice/${name}`,
    value: JSON.stringify({ epoch, accuracy, loss: 1, progress: 1 }),
    headers: { 'mlp-job-id': `id-${name}` },
  });
  for (let epoch = 0; epoch < 50; epoch++) for (const name of ['a', 'b']) await relay.handle(of(name, epoch, 0.1));
  await relay.handle(of('a', 7, 0.9));
  await relay.idle();
  const a = await history(deps, 'alice', 'a');
  t.same(
    a.map((m) => m.epoch),
    Array.from({ length: 50 }, (_, i) => i),
  );
  t.equal(a[7]?.accuracy, 0.9, 'the repeat replaced epoch 7');
  t.equal((await history(deps, 'alice', 'b')).length, 50);
});
