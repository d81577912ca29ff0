import t from 'tap';
import { until, untilAnswer } from './poll.js';

t.test('until answers the first value that is done, running `before` ahead of each read', async (t) => {
  let n = 0;
  let befores = 0;
  t.equal(
    await until(
      () => ++n,
      (v) => v === 3,
      'three',
      { ms: 1, before: () => befores++ },
    ),
    3,
  );
  t.equal(befores, 3, 'before ran once per read');
});

t.test('until gives up after `tries`, naming what and the last value; a throw ends the wait', async (t) => {
  let reads = 0;
  await t.rejects(
    until(
      () => ({ reads: ++reads }),
      () => false,
      'the sky falling',
      { tries: 4, ms: 1 },
    ),
    { message: 'the sky falling never happened; last seen: {"reads":4}' },
  );
  t.equal(reads, 4);
  await t.rejects(
    until(
      () => 1,
      () => false,
      'x',
      {
        ms: 1,
        before: () => {
          throw new Error('aborted');
        },
      },
    ),
    /aborted/,
  );
});

t.test('untilAnswer waits for a defined answer', async (t) => {
  let n = 0;
  t.equal(await untilAnswer('two', async () => (++n >= 2 ? 'yes' : undefined), 5, 1), 'yes');
  await t.rejects(
    untilAnswer('never', async () => undefined, 3, 1),
    /never never happened/,
  );
});
