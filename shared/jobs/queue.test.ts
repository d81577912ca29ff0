import t from 'tap';
import { toExact } from '../tcc/amounts.js';
import { planAdmission, type Queued, type TenantUse } from './queue.js';

// The fair admission rule of docs/api.md#jobs as a pure decision on a snapshot.
const NOW = new Date('2030-01-01T00:00:00.000Z');
const RESERVE = 600_000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

const job = (user: string, name: string, cpu: number, more: Partial<Queued> & { gpu?: number } = {}): Queued => ({
  id: `${user}/${name}`,
  name,
  user,
  tenant: 'default',
  need: toExact({ cpu, gpu: more.gpu ?? 0, ram: 100 }),
  ...(more.head_at ? { head_at: more.head_at } : {}),
});
/** A tenant of `cpu` cores (and `gpu`) with `free` cores free. */
const tenant = (cpu: number, free: number, gpu = { cap: 0, free: 0 }): Record<string, TenantUse> => ({
  default: { capacity: toExact({ cpu, gpu: gpu.cap, ram: 10_000 }), inuse: toExact({ cpu: cpu - free, gpu: gpu.cap - gpu.free, ram: 0 }) },
});
const plan = (queue: Queued[], tenants: Record<string, TenantUse>) => planAdmission(queue, tenants, { now: NOW, reserveMs: RESERVE });
const names = (p: ReturnType<typeof plan>) => p.admit.map((q) => q.id);
const msgOf = (p: ReturnType<typeof plan>, id: string) => p.waiting.find((w) => w.job.id === id)?.msg ?? '';

t.test("a user's jobs keep their order: a later small one does not pass the user's first", async (t) => {
  const p = plan([job('alice', 'big', 4), job('alice', 'small', 1)], tenant(4, 2));
  t.same(names(p), []);
  t.match(msgOf(p, 'alice/big'), /^waiting for resources: request does not fit now: needs cpu 4; free cpu 2; if it still waits at 2030-01-01T00:10:00.000Z/);
  t.match(msgOf(p, 'alice/small'), /queued behind your earlier job big/);
  t.equal(p.waiting.find((w) => w.job.id === 'alice/big')?.head_at, NOW.toISOString(), 'the first becomes its head now');
  t.notOk(p.waiting.find((w) => w.job.id === 'alice/small')?.head_at, 'the one behind is no head');
});

t.test("a user's first job that does not fit does not hold up other users' jobs that fit", async (t) => {
  const p = plan([job('alice', 'big', 4), job('bob', 'one', 1), job('bob', 'two', 1), job('bob', 'three', 1)], tenant(4, 2));
  t.same(names(p), ['bob/one', 'bob/two'], "bob's jobs in his order, as far as they fit");
  t.match(msgOf(p, 'bob/three'), /needs cpu 1; free cpu 0/);
  t.match(msgOf(p, 'alice/big'), /needs cpu 4; free cpu 0/);
});

t.test('users take turns: after one of theirs is admitted, a user goes behind the others', async (t) => {
  const queue = [job('alice', 'a', 1), job('alice', 'b', 1), job('alice', 'c', 1), job('bob', 'x', 1), job('carol', 'y', 1)];
  t.same(names(plan(queue, tenant(10, 2))), ['alice/a', 'bob/x']);
  t.same(names(plan(queue, tenant(10, 4))), ['alice/a', 'bob/x', 'carol/y', 'alice/b']);
  const p = plan(queue, tenant(10, 3));
  const next = p.waiting.find((w) => w.job.id === 'alice/b');
  t.ok(next?.head_at && next.head_at > NOW.toISOString(), 'a head promoted in this pass counts from after now, behind the heads already waiting');
});

t.test('whoever has been waiting longest at the head goes first', async (t) => {
  const queue = [job('alice', 'a', 1, { head_at: ago(5000) }), job('bob', 'x', 1, { head_at: ago(9000) })];
  t.same(names(plan(queue, tenant(10, 1))), ['bob/x']);
});

t.test('after MLP_QUEUE_RESERVE, what the first job needs is kept for it', async (t) => {
  const queue = [job('alice', 'big', 4, { head_at: ago(RESERVE) }), job('bob', 'small', 1)];
  const p = plan(queue, tenant(4, 2));
  t.same(names(p), [], 'the free cpu is kept for the big job');
  t.match(msgOf(p, 'alice/big'), /needs cpu 4; free cpu 2; reserved: resources that free up are kept for this job until it fits/);
  t.match(msgOf(p, 'bob/small'), /needs cpu 1; free cpu 2, of which cpu 2 is kept for a job that has waited longer/);
  t.same(names(plan(queue, tenant(4, 4))), ['alice/big'], 'admitted once enough is free');
  t.same(names(plan(queue, tenant(8, 5))), ['alice/big', 'bob/small'], 'the others fit in what is left');
  t.same(names(plan([job('alice', 'big', 4, { head_at: ago(RESERVE - 1) }), job('bob', 'small', 1)], tenant(4, 2))), ['bob/small'], 'one millisecond earlier it was not yet reserved');
});

t.test('only what the reserved job is short of is kept: jobs needing none of it still run', async (t) => {
  const queue = [job('alice', 'gpu', 1, { gpu: 2, head_at: ago(RESERVE) }), job('bob', 'cpu', 2), job('carol', 'more', 2)];
  const p = plan(queue, tenant(4, 4, { cap: 2, free: 1 }));
  t.same(names(p), ['bob/cpu'], "bob's fits beside the cpu kept for alice's job; carol's would take it");
  t.match(msgOf(p, 'carol/more'), /needs cpu 2; free cpu 2, of which cpu 1 is kept/);
});

t.test('several reserved jobs: the longest waiting is served first', async (t) => {
  const queue = [job('alice', 'a', 3, { head_at: ago(RESERVE + 10) }), job('bob', 'b', 3, { head_at: ago(RESERVE + 20) })];
  t.same(names(plan(queue, tenant(4, 3))), ['bob/b']);
  const p = plan(queue, tenant(4, 2));
  t.same(names(p), []);
  t.match(msgOf(p, 'alice/a'), /free cpu 2, of which cpu 2 is kept for a job that has waited longer; reserved/);
});

t.test('a job that can never fit (capacity lowered since) is not reserved for', async (t) => {
  const p = plan([job('alice', 'huge', 8, { head_at: ago(RESERVE * 2) }), job('bob', 'small', 1)], tenant(4, 2));
  t.same(names(p), ['bob/small']);
  t.match(msgOf(p, 'alice/huge'), /can never fit the tenant as now configured: needs cpu 8; capacity cpu 4/);
});

t.test('tenants have their own pools; capacity below use counts as nothing free', async (t) => {
  const a = { ...job('alice', 'a', 1), tenant: 'other' };
  const tenants = { ...tenant(4, -2), other: { capacity: toExact({ cpu: 2, ram: 1000 }), inuse: toExact({}) } };
  const p = plan([a, job('bob', 'b', 1)], tenants);
  t.same(names(p), ['alice/a']);
  t.match(msgOf(p, 'bob/b'), /free cpu 0/);
});
