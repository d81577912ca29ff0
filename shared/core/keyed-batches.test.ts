import t from 'tap';
import { keyedBatches } from './keyed-batches.js';

const ok = <R>(value: R): PromiseSettledResult<R> => ({ status: 'fulfilled', value });

t.test('items of one key that arrive while a batch runs go together in the next, in order', async (t) => {
  const batches: number[][] = [];
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const run = keyedBatches<number, number>(async (_key, items) => {
    batches.push(items);
    if (batches.length === 1) await held;
    return items.map((i) => ok(i * 10));
  });
  const first = run('a', 1);
  const rest = [2, 3, 4].map((i) => run('a', i));
  release();
  t.same(await Promise.all([first, ...rest]), [10, 20, 30, 40], 'each caller gets its own answer');
  t.same(batches, [[1], [2, 3, 4]], 'one batch, then the three that waited');
});

t.test('different keys run at once; a batch is at most max items', async (t) => {
  const running = new Set<string>();
  let overlapped = false;
  const sizes: number[] = [];
  const run = keyedBatches<string, string>(async (key, items) => {
    running.add(key);
    if (running.size > 1) overlapped = true;
    sizes.push(items.length);
    await new Promise((r) => setImmediate(r));
    running.delete(key);
    return items.map((i) => ok(`${key}${i}`));
  }, 2);
  const got = await Promise.all([run('a', '1'), run('b', '1'), run('a', '2'), run('a', '3'), run('a', '4')]);
  t.same(got, ['a1', 'b1', 'a2', 'a3', 'a4']);
  t.ok(overlapped, 'keys a and b ran at the same time');
  t.ok(Math.max(...sizes) <= 2, `no batch over 2 (${sizes})`);
});

t.test('a refusal reaches its own caller only; a throw reaches the whole batch, and the next batch still runs', async (t) => {
  let calls = 0;
  let release = () => {};
  const held = new Promise<void>((r) => (release = r));
  const run = keyedBatches<number, number>(async (_key, items) => {
    calls += 1;
    if (calls === 1) {
      await held;
      throw new Error('store down');
    }
    return items.map((i) => (i === 3 ? { status: 'rejected', reason: new Error('refused 3') } : ok(i)));
  });
  const first = run('k', 1);
  const second = [2, 3].map((i) => run('k', i));
  release();
  await t.rejects(first, /store down/);
  t.equal(await second[0], 2);
  await t.rejects(second[1] as Promise<number>, /refused 3/);
  t.equal(await run('k', 5), 5, 'the key serves again afterwards');
});
