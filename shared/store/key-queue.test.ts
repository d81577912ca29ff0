import t from 'tap';
import { KeyQueue } from './key-queue.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('callers of one key take turns in arrival order; other keys do not wait', async (t) => {
  const q = new KeyQueue<string, never>();
  const order: string[] = [];
  let release!: () => void;
  const first = q.run('a', async () => {
    order.push('a1 start');
    await new Promise<void>((resolve) => (release = resolve));
    order.push('a1 end');
  });
  const second = q.run('a', async () => void order.push('a2'));
  const other = q.run('b', async () => void order.push('b1'));
  await other;
  t.same(order, ['a1 start', 'b1'], 'b ran while a1 held its key');
  release();
  await Promise.all([first, second]);
  t.same(order, ['a1 start', 'b1', 'a1 end', 'a2']);
});

t.test('a writer that queued before a write was sent sees what it left; a later one does not', async (t) => {
  const q = new KeyQueue<{ v: number }, never>();
  let send!: () => void;
  const seen: Record<string, unknown> = {};
  const writer = q.run('k', async (turn) => {
    seen.writer = turn.known;
    await new Promise<void>((resolve) => (send = resolve));
    const sent = turn.sending();
    sent({ v: 2 });
  });
  const before = q.run('k', async (turn) => void (seen.before = turn.known));
  await tick();
  send();
  await writer;
  const after = q.run('k', async (turn) => void (seen.after = turn.known));
  await Promise.all([before, after]);
  t.same(seen, { writer: undefined, before: { v: 2 }, after: undefined });
});

t.test('a write sent before a caller queued tells it nothing', async (t) => {
  const q = new KeyQueue<{ v: number }, never>();
  let finish!: () => void;
  let late: unknown = 'unset';
  const writer = q.run('k', async (turn) => {
    const sent = turn.sending(); // sent first …
    await new Promise<void>((resolve) => (finish = resolve));
    sent({ v: 3 });
  });
  await tick();
  const queuedLate = q.run('k', async (turn) => void (late = turn.known)); // … then this one queued
  finish();
  await Promise.all([writer, queuedLate]);
  t.equal(late, undefined);
});

t.test('what a turn holds passes to the next; others waiting is known', async (t) => {
  const q = new KeyQueue<never, string>();
  const seen: unknown[] = [];
  let go!: () => void;
  const first = q.run('k', async (turn) => {
    await new Promise<void>((resolve) => (go = resolve));
    seen.push(turn.othersWaiting());
    turn.held = 'lease';
  });
  const second = q.run('k', async (turn) => {
    seen.push(turn.held, turn.othersWaiting());
    turn.held = undefined;
  });
  await tick();
  go();
  await Promise.all([first, second]);
  t.same(seen, [true, 'lease', false]);
  await q.run('k', async (turn) => void seen.push(turn.held));
  t.equal(seen.at(-1), undefined, 'a new queue starts empty');
});
