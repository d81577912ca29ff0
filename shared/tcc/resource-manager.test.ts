import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { Unavailable } from '../core/errors.js';
import { createLogger, memorySink } from '../core/log.js';
import { openEmbeddedStore } from '../store/embedded.js';
import type { Collection, Doc, Store } from '../store/port.js';
import { ZERO, type Amounts } from './amounts.js';
import { resourceManager, type ArchivedRequest, type ResourceManager, type TenantDoc } from './resource-manager.js';

const amt = (a: Partial<Amounts>): Amounts => ({ ...ZERO, ...a });
type Fault = 'archive' | 'prune' | undefined;

/**
 * A manager on an embedded store whose next archive insert or prune can be made to fail, as a
 * crash between the steps that follow a decision would leave things.
 */
async function setup(t: Test, opts: { maxPending?: number } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-rm-'));
  const store = await openEmbeddedStore({ dir });
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fault: { next: Fault } = { next: undefined };
  /** Decision writes on tenants (those that set inuse), not the prunes after them. */
  const counted = { decisionWrites: 0 };
  const failing: Store = {
    ...store,
    collection<T extends Doc>(name: Parameters<Store['collection']>[0]): Collection<T> {
      const col = store.collection<T>(name);
      if (name === 'resource_request') {
        return { ...col, insert: (doc) => (fault.next === 'archive' ? ((fault.next = undefined), Promise.reject(new Unavailable('archive down'))) : col.insert(doc)) };
      }
      if (name === 'tenant') {
        return {
          ...col,
          update: (id, where, change) => {
            const prune = change.set && 'requests' in change.set && !('inuse' in change.set);
            if (change.set && 'inuse' in change.set) counted.decisionWrites += 1;
            if (prune && fault.next === 'prune') {
              fault.next = undefined;
              return Promise.reject(new Unavailable('killed before the prune'));
            }
            return col.update(id, where, change);
          },
        };
      }
      return col;
    },
  };
  let clock = Date.now();
  const sink = memorySink();
  const rm: ResourceManager = resourceManager(failing, { now: () => new Date(clock), log: createLogger({ component: 't', sinks: [sink] }), timeoutMs: 60_000, ...opts });
  await rm.ensureTenant('default', amt({ cpu: 4000, rom: 1000 }));
  const tenant = async () => (await rm.getTenant('default')) as TenantDoc;
  const archive = store.collection<ArchivedRequest>('resource_request');
  return { rm, fault, tenant, archive, counted, logs: sink.lines, tick: (ms: number) => (clock += ms) };
}

t.test('a decided request is archived, then leaves the tenant document', async (t) => {
  const { rm, tenant, archive } = await setup(t);
  await rm.try({ id: 'a', applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 1000 }) });
  t.same(Object.keys((await tenant()).requests), ['a'], 'undecided: in the document');
  t.equal(await archive.get('a'), null, 'not archived yet');
  await rm.confirm('a', 'jm');
  t.same((await tenant()).requests, {}, 'decided: gone from the document');
  t.match(await archive.get('a'), { _id: 'a', tenant: 'default', entry: { state: 'confirmed' }, expires_at: String });
  t.equal((await tenant()).inuse.cpu, 1000, 'still in use');
});

for (const step of ['archive', 'prune'] as const) {
  t.test(`a crash before the ${step}: the decision stands, every rule holds, the reconciler finishes`, async (t) => {
    const { rm, fault, tenant, archive, logs } = await setup(t);
    await rm.try({ id: 'a', applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 1000 }) });
    fault.next = step;
    await rm.confirm('a', 'jm');
    t.ok(
      logs.some((l) => l.includes('not archived yet')),
      'the fault is logged, the confirm answered',
    );
    t.equal((await tenant()).requests.a?.state, 'confirmed', 'left decided in the document');
    t.equal((await archive.get('a')) !== null, step === 'prune', step === 'prune' ? 'and in the archive' : 'not in the archive');
    await t.rejects(rm.cancel('a', 'jm'), /was confirmed/, 'cancel after confirm is refused');
    t.equal((await tenant()).inuse.cpu, 1000);
    // A cancel of a try whose cancel was cut short leaves it the same way.
    await rm.try({ id: 'b', applier: 'dm', type: 'request', tenant: 'default', amounts: amt({ rom: 10 }) });
    fault.next = step;
    await rm.cancel('b', 'dm');
    fault.next = step;
    await rm.cancel('never-tried', 'mm');
    t.same(Object.keys((await tenant()).requests).sort(), ['b', 'never-tried'], 'the refused cancel moved a out; b and the tombstone wait');
    const out = await rm.reconcile();
    t.match(out, { expired: [], archived: 2 }, 'the reconciler archived and pruned them');
    t.same((await tenant()).requests, {});
    await t.rejects(rm.try({ id: 'b', applier: 'dm', type: 'request', tenant: 'default', amounts: amt({ rom: 10 }) }), /late try is refused/);
    await t.rejects(rm.try({ id: 'never-tried', applier: 'mm', type: 'request', tenant: 'default', amounts: ZERO }), /late try is refused/);
    await t.rejects(rm.confirm('b', 'dm'), /cancelled or timed out/, 'confirm after cancel is refused');
    await rm.try({ id: 'a', applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 1000 }) });
    t.same((await tenant()).inuse, amt({ cpu: 1000 }), 'a repeated try is idempotent; b gave its rom back');
    t.match(await rm.reconcile(), { archived: 0 }, 'a second pass finds nothing');
  });
}

t.test('a repeated confirm finishes the move itself', async (t) => {
  const { rm, fault, tenant } = await setup(t);
  await rm.try({ id: 'a', applier: 'am', type: 'request', tenant: 'default', amounts: amt({ cpu: 500 }) });
  fault.next = 'archive';
  await rm.confirm('a', 'am');
  t.ok((await tenant()).requests.a);
  await rm.confirm('a', 'am');
  t.same((await tenant()).requests, {}, 'moved out by the retry');
  t.match(await rm.lookup('a'), { tenant: 'default', entry: { state: 'confirmed' } });
});

t.test('the tenant document holds at most maxPending requests; a try beyond is refused and holds nothing', async (t) => {
  const { rm, tenant } = await setup(t, { maxPending: 3 });
  for (const id of ['p1', 'p2', 'p3']) await rm.try({ id, applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 100 }) });
  await t.rejects(rm.try({ id: 'p4', applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 100 }) }), /too many resource requests in flight for this tenant \(3, at most 3\)/);
  t.equal((await tenant()).inuse.cpu, 300, 'the refused try holds nothing');
  await rm.cancel('unknown', 'jm');
  t.equal(Object.keys((await tenant()).requests).length, 3, 'a cancel of an unknown id still leaves its tombstone (in the archive)');
  await t.rejects(rm.try({ id: 'unknown', applier: 'jm', type: 'request', tenant: 'default', amounts: ZERO }), /late try is refused/);
  await rm.confirm('p1', 'jm');
  await rm.try({ id: 'p4', applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 100 }) });
  t.equal((await tenant()).inuse.cpu, 400, 'room again once one was decided');
});

t.test('the reconciler drops tombstones after 24 hours and confirmed requests after 7 days, and dates older records', async (t) => {
  const { rm, archive, tick } = await setup(t);
  await rm.try({ id: 'kept', applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 100 }) });
  await rm.confirm('kept', 'jm');
  await rm.cancel('tomb', 'jm');
  // As the archive held requests before they carried expires_at.
  const decided = Date.now() - 23 * 3600_000;
  await archive.insert({ _id: 'legacy', id: 'legacy', tenant: 'default', entry: { applier: 'dm', type: 'tombstone', amounts: ZERO, state: 'cancelled', created: decided, decided } });
  t.match(await rm.reconcile(), { collected: 0 });
  t.match(await archive.get('legacy'), { expires_at: new Date(decided + 24 * 3600_000).toISOString() }, 'an older record is given its time');
  tick(24 * 3600_000 - 1);
  t.match(await rm.reconcile(), { collected: 1 }, 'the older record, past 24 hours');
  await t.rejects(rm.try({ id: 'tomb', applier: 'jm', type: 'request', tenant: 'default', amounts: ZERO }), /late try is refused/, 'a tombstone refuses late tries for 24 hours');
  tick(2);
  t.match(await rm.reconcile(), { collected: 1 });
  t.equal(await rm.lookup('tomb'), undefined, 'then it may be dropped');
  t.ok(await rm.lookup('kept'), 'confirmed requests stay longer');
  tick(7 * 24 * 3600_000);
  t.match(await rm.reconcile(), { collected: 1 });
  t.equal(await rm.lookup('kept'), undefined);
});

// All 30 callers ask before the store answers once, so the first goes alone and the other 29
// wait and go together: each group is at most a few writes however the I/O interleaves.
t.test('concurrent decisions on one tenant share writes (a group commit), each caller gets its own decision', async (t) => {
  const { rm, tenant, counted } = await setup(t);
  const writes = () => counted.decisionWrites;
  // 4000 thousandths of capacity: 30 tries of 150 fit 26 times.
  const tries = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => rm.try({ id: `g${i}`, applier: 'jm', type: 'request', tenant: 'default', amounts: amt({ cpu: 150 }) })));
  const held = tries.filter((r) => r.status === 'fulfilled').length;
  t.equal(held, 26, '26 of 30 fit the capacity');
  t.ok(
    tries.filter((r) => r.status === 'rejected').every((r) => /TCC_DOES_NOT_FIT/.test(String((r.reason as { code?: string }).code))),
    'the other 4 each refused as not fitting',
  );
  t.ok(writes() <= 3, `30 tries took ${writes()} decision writes`);
  t.equal((await tenant()).inuse.cpu, 26 * 150, 'in use: exactly what was held');
  const before = writes();
  await Promise.all(tries.map((r, i) => (r.status === 'fulfilled' ? rm.confirm(`g${i}`, 'jm') : rm.cancel(`g${i}`, 'jm'))));
  t.ok(writes() - before <= 3, `30 confirms and cancels took ${writes() - before} decision writes`);
  const after = await tenant();
  t.equal(after.inuse.cpu, 26 * 150, 'confirms keep what they hold');
  t.same(Object.keys(after.requests), [], 'every decided request left the ledger');
});
