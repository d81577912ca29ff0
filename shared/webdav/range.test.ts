import t from 'tap';
import { parseRange } from './range.js';

t.test('single byte ranges', async (t) => {
  t.equal(parseRange(undefined, 10), undefined);
  t.same(parseRange('bytes=0-3', 10), { start: 0, end: 3 });
  t.same(parseRange('bytes=5-', 10), { start: 5, end: 9 });
  t.same(parseRange('bytes=-4', 10), { start: 6, end: 9 });
  t.same(parseRange('bytes=8-100', 10), { start: 8, end: 9 }, 'the end is clipped');
  t.throws(() => parseRange('bytes=10-', 10), /not satisfiable/);
  t.throws(() => parseRange('bytes=4-2', 10), /not satisfiable/);
  t.throws(() => parseRange('bytes=0-1,3-4', 10), /single/);
  t.throws(() => parseRange('items=0-1', 10), /single/);
});
