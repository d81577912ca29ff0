import t from 'tap';
import { FairQueue } from './fair-queue.js';

const drain = <T>(q: FairQueue<T>): T[] => {
  const out: T[] = [];
  for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
  return out;
};

t.test('users take turns, then the jobs of a user; a job keeps its order', async (t) => {
  const q = new FairQueue<string>({ perKey: 100, total: 1000 });
  for (let i = 0; i < 5; i++) q.push('alice', 'alice/flood', String(i), `a${i}`);
  q.push('alice', 'alice/other', '0', 'o0');
  q.push('bob', 'bob/train', '0', 'b0');
  q.push('bob', 'bob/train', '1', 'b1');
  t.equal(q.size, 8);
  t.same(drain(q), ['a0', 'b0', 'o0', 'b1', 'a1', 'a2', 'a3', 'a4'], "bob waits one turn, not for alice's backlog");
  t.equal(q.size, 0);
});

t.test('a repeat replaces the waiting item in its place', async (t) => {
  const q = new FairQueue<string>({ perKey: 100, total: 1000 });
  q.push('alice', 'alice/j', '1', 'first 1');
  q.push('alice', 'alice/j', '2', 'only 2');
  t.equal(q.push('alice', 'alice/j', '1', 'second 1'), 0);
  t.same(drain(q), ['second 1', 'only 2']);
});

t.test('bounds: a job past its bound loses its oldest; past the total, the largest user does', async (t) => {
  const q = new FairQueue<string>({ perKey: 3, total: 5 });
  for (let i = 0; i < 5; i++) q.push('alice', 'alice/j', String(i), `a${i}`);
  t.equal(q.size, 3, 'the job holds at most 3');
  q.push('alice', 'alice/k', '0', 'k0');
  q.push('bob', 'bob/j', '0', 'b0');
  t.equal(q.size, 5);
  t.equal(q.push('bob', 'bob/j', '1', 'b1'), 1, 'full: one was dropped');
  t.equal(q.size, 5);
  t.same(drain(q), ['a3', 'b0', 'k0', 'b1', 'a4'], 'alice (the largest) lost her oldest; bob lost nothing');
});

t.test('hooks: a repeat is merged with the waiting item it replaces; a dropped item is told', async (t) => {
  const dropped: string[] = [];
  const q = new FairQueue<string>({ perKey: 2, total: 10 }, { replaced: (old, next) => `${old}+${next}`, dropped: (item) => dropped.push(item) });
  q.push('alice', 'alice/j', '0', 'a');
  q.push('alice', 'alice/j', '0', 'b');
  q.push('alice', 'alice/j', '1', 'c');
  q.push('alice', 'alice/j', '2', 'd');
  t.same(dropped, ['a+b'], 'the oldest, past the bound of 2');
  t.same(drain(q), ['c', 'd']);
  const q2 = new FairQueue<string>({ perKey: 5, total: 10 }, { replaced: (old, next) => `${old}+${next}` });
  q2.push('bob', 'bob/j', '0', 'x');
  q2.push('bob', 'bob/j', '0', 'y');
  t.same(drain(q2), ['x+y'], 'replaced in place by what the hook made');
});
