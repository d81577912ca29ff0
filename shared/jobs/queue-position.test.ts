import t from 'tap';
import { toExact } from '../tcc/amounts.js';
import type { Queued, TenantUse } from './queue.js';
import { queuePositions, remainingS, totalS, type Running } from './queue-position.js';

// Queue positions and waits (docs/api.md#experiments) replayed from the fair admission rule.
const NOW = new Date('2030-01-01T00:00:00.000Z');
const job = (user: string, name: string, cpu: number): Queued => ({ id: `${user}/${name}`, name, user, tenant: 'default', need: toExact({ cpu, ram: 100 }) });
const tenant = (cpu: number, used: number): Record<string, TenantUse> => ({ default: { capacity: toExact({ cpu, ram: 10_000 }), inuse: toExact({ cpu: used, ram: 100 }) } });
const run = (cpu: number, left: number | null): Running => ({ tenant: 'default', need: toExact({ cpu, ram: 100 }), remainingS: left });
const positions = (queue: Queued[], tenants: Record<string, TenantUse>, running: Running[], typicalS: number | null = null) =>
  Object.fromEntries([...queuePositions(queue, tenants, running, { now: NOW, reserveMs: 600_000, typicalS })].map(([id, p]) => [id, [p.position, p.eta_s]]));

t.test('a running job at 25 % after 100 s has 300 s left; its run takes 400 s', async (t) => {
  t.equal(remainingS(25, 100), 300);
  t.equal(totalS(25, 100), 400);
  t.equal(remainingS(0, 100), null, 'no progress yet: no estimate');
  t.equal(remainingS(100, 100), 0);
});

t.test('jobs wait in turn order; each is admitted when a running job ends', async (t) => {
  // 2 cores, both held by two jobs ending in 60 s and 120 s; three waiting jobs of 1 core.
  const got = positions([job('alice', 'a1', 1), job('alice', 'a2', 1), job('bob', 'b1', 1)], tenant(2, 2), [run(1, 60), run(1, 120)]);
  t.same(got, { 'alice/a1': [1, 60], 'bob/b1': [2, 120], 'alice/a2': [3, null] }, "users take turns: bob's first job goes before alice's second");
  const withTypical = positions([job('alice', 'a1', 1), job('alice', 'a2', 1), job('bob', 'b1', 1)], tenant(2, 2), [run(1, 60), run(1, 120)], 100);
  t.same(withTypical['alice/a2'], [3, 160], 'a job admitted in the replay is assumed to run the typical time: a1 ends at 160 s');
});

t.test('a big job waits for enough to free; the estimate counts every release it needs', async (t) => {
  const got = positions([job('alice', 'big', 2)], tenant(2, 2), [run(1, 30), run(1, 90)]);
  t.same(got, { 'alice/big': [1, 90] });
});

t.test('no estimate while a running job has no progress; positions still in turn order', async (t) => {
  const got = positions([job('alice', 'a1', 1), job('bob', 'b1', 1), job('alice', 'a2', 1)], tenant(1, 1), [run(1, null)]);
  t.same(got, { 'alice/a1': [1, null], 'bob/b1': [2, null], 'alice/a2': [3, null] });
});

t.test('a job that fits now is next with no wait; one that can never fit comes last', async (t) => {
  const got = positions([job('alice', 'huge', 5), job('bob', 'small', 1)], tenant(2, 1), []);
  t.same(got, { 'bob/small': [1, 0], 'alice/huge': [2, null] });
});

t.test('positions count per tenant', async (t) => {
  const other: Queued = { ...job('carol', 'c1', 1), tenant: 'lab' };
  const tenants = { ...tenant(1, 1), lab: { capacity: toExact({ cpu: 1, ram: 1000 }), inuse: toExact({ cpu: 1, ram: 0 }) } };
  const got = positions([job('alice', 'a1', 1), other], tenants, [run(1, 10)]);
  t.same(got['alice/a1'], [1, 10]);
  t.same(got['carol/c1'], [1, null], "the lab tenant's held core has no release in sight");
});
