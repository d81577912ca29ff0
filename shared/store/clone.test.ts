import t from 'tap';
import { cloneDoc } from './clone.js';

t.test('a deep copy: changing it changes nothing of the original, whatever the nesting', async (t) => {
  const original = { _id: 'a/b', n: 1, s: 'x', no: null, gone: undefined, list: [1, { deep: ['y'] }], nested: { a: { b: 2 } }, at: new Date(0) };
  const copy = cloneDoc(original);
  t.same(copy, original, 'equal');
  t.ok('gone' in copy, 'an undefined field stays a field');
  copy.list.push(3);
  (copy.list[1] as { deep: string[] }).deep.push('z');
  copy.nested.a.b = 9;
  copy.at.setTime(5);
  t.same(original.list, [1, { deep: ['y'] }]);
  t.equal(original.nested.a.b, 2);
  t.equal(original.at.getTime(), 0, 'a Date is copied, not shared');
  t.ok(copy.at instanceof Date);
  t.same(cloneDoc([{ a: 1 }, null, 'x']), [{ a: 1 }, null, 'x']);
  t.equal(cloneDoc(null), null);
  t.equal(cloneDoc('s'), 's');
  const bare = Object.assign(Object.create(null) as Record<string, unknown>, { k: { v: 1 } });
  const bareCopy = cloneDoc(bare);
  t.not(bareCopy.k, bare.k, 'a prototype-less object is copied deeply too');
});
