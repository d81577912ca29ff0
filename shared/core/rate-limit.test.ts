import t from 'tap';
import { createRateLimiter } from './rate-limit.js';

t.test('a burst, then tokens as the clock moves; keys are apart', async (t) => {
  let now = 1_000_000;
  const l = createRateLimiter({ burst: 3, perSecond: 2, now: () => new Date(now) });
  t.same([l.take('a'), l.take('a'), l.take('a'), l.take('a')], [true, true, true, false]);
  t.ok(l.take('b'), 'another key has its own bucket');
  t.notOk(l.allows('a'));
  t.equal(l.retryAfter('a'), 1);
  now += 500;
  t.ok(l.allows('a'), 'half a second gives one token at 2 per second');
  t.ok(l.take('a'));
  t.notOk(l.take('a'));
  now -= 10_000;
  t.notOk(l.take('a'), 'a clock stepping back gives nothing');
  now += 60_000;
  t.same([l.take('a'), l.take('a'), l.take('a'), l.take('a')], [true, true, true, false], 'never more than the burst');
});

t.test('at most maxKeys buckets: the least recently used is forgotten (as full)', async (t) => {
  const l = createRateLimiter({ burst: 1, perSecond: 0.001, now: () => new Date(0), maxKeys: 2 });
  t.ok(l.take('a'));
  t.ok(l.take('b'));
  t.ok(l.take('c'));
  t.notOk(l.take('c'));
  t.ok(l.take('a'), 'a was forgotten');
});
