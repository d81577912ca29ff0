import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { settleRom } from '../datasets/lifecycle.js';
import type { Deps } from '../wiring/deps.js';
import { Forbidden, isClientError, Unavailable } from '../core/errors.js';
import { errorAnswer, writeAnswer } from '../http/answer.js';
import { settleTrying } from '../jobs/lifecycle.js';
import { createLogger, memorySink } from '../core/log.js';
import { datasetsCollection, type DatasetDoc } from '../records/datasets.js';
import { jobsCollection, type JobDoc } from '../records/jobs.js';
import { openEmbeddedStore } from '../store/embedded.js';
import type { Doc } from '../store/port.js';
import { ZERO, type Amounts } from './amounts.js';
import { createTccClient, httpTransport, inProcessTransport, type TccTransport } from './client.js';
import { holdTryId, settleHold, type Holder } from './hold.js';
import { refusedAs } from './ledger.js';
import { releaseOnce } from './release-once.js';
import { resourceManager } from './resource-manager.js';
import { settleTry } from './settle.js';

/**
 * Callers decide what happened to a request from the refusal's kind, never from its words: every
 * refusal that reaches them here has its message replaced, as rewording the ledger's texts would.
 * Seen failing before refusals carried a code: the settles rethrew ("was confirmed" no longer
 * matched) and releaseOnce answered 'released' for an expired try, a permanent quota leak.
 */
const amt = (a: Partial<Amounts>): Amounts => ({ ...ZERO, ...a });

async function setup(t: Test, reword: (err: Error) => void = (err) => void (err.message = 'reworded')) {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-outcomes-'));
  const store = await openEmbeddedStore({ dir });
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const log = createLogger({ component: 't', sinks: [memorySink()] });
  let clock = Date.now();
  const rm = resourceManager(store, { now: () => new Date(clock), log, timeoutMs: 60_000 });
  await rm.ensureTenant('default', amt({ cpu: 4000, rom: 1000 }));
  const inner = inProcessTransport(rm);
  const rewording =
    <A>(op: (a: A) => Promise<void>) =>
    async (a: A) => {
      try {
        await op(a);
      } catch (err) {
        if (isClientError(err)) reword(err);
        throw err;
      }
    };
  const transport: TccTransport = { try: rewording(inner.try), confirm: rewording(inner.confirm), cancel: rewording(inner.cancel) };
  const tcc = createTccClient(transport, { log, attempts: 1 });
  const deps = { store, tcc, log, resources: rm } as unknown as Deps;
  const insert = <T extends Doc>(name: 'dataset' | 'job' | 'model', doc: Record<string, unknown>) => store.collection<T>(name).insert(doc as never);
  return { rm, tcc, deps, store, insert, tick: (ms: number) => (clock += ms) };
}

// settleTry, which settleHold, settleRom and settleTrying share: each outcome, as the ledger decides it.
t.test('settleTry: a confirmed try is held, and stays counted', async (t) => {
  const { tcc, rm } = await setup(t);
  await tcc.try({ id: 'jm-a-t0', applier: 'jm', request_type: 'request', tenant: 'default', cpu: 1 });
  await tcc.confirm('jm-a-t0', 'jm');
  t.equal(await settleTry(tcc, 'jm-a-t0', 'jm'), 'held');
  t.equal((await rm.getTenant('default'))?.inuse.cpu, 1000, 'still in use: its release gives it back');
  t.equal(await settleTry(tcc, 'jm-a-t0', 'jm'), 'held', 'settling again answers the same');
});

t.test('settleTry: an unconfirmed try is cancelled — nothing held, its confirm refused', async (t) => {
  const { tcc, rm } = await setup(t);
  await tcc.try({ id: 'dm-b', applier: 'dm', request_type: 'request', tenant: 'default', cpu: 2 });
  t.equal((await rm.getTenant('default'))?.inuse.cpu, 2000, 'a request try counts at once');
  t.equal(await settleTry(tcc, 'dm-b', 'dm'), 'cancelled');
  t.equal((await rm.getTenant('default'))?.inuse.cpu, 0);
  t.ok(refusedAs(await tcc.confirm('dm-b', 'dm').catch((e: unknown) => e), 'TCC_CANCELLED'), 'a late confirm is refused');
  t.equal(await settleTry(tcc, 'dm-b', 'dm'), 'cancelled', 'settling again answers the same');
});

t.test('settleTry: a try never seen is cancelled, and a late copy of it refused', async (t) => {
  const { tcc, rm } = await setup(t);
  t.equal(await settleTry(tcc, 'mm-c', 'mm'), 'cancelled');
  const late = await tcc.try({ id: 'mm-c', applier: 'mm', request_type: 'request', tenant: 'default', cpu: 1 }).catch((e: unknown) => e);
  t.ok(refusedAs(late, 'TCC_CANCELLED'), 'the tombstone refuses it');
  t.equal((await rm.getTenant('default'))?.inuse.cpu, 0);
});

t.test('settleTry: what decides nothing is rethrown — another refusal, a fault', async (t) => {
  const { tcc, rm } = await setup(t);
  await tcc.try({ id: 'am-d', applier: 'am', request_type: 'request', tenant: 'default', cpu: 1 });
  t.ok(refusedAs(await settleTry(tcc, 'am-d', 'jm').catch((e: unknown) => e), 'TCC_OTHER_APPLIER'), 'another applier cannot settle it');
  t.equal((await rm.getTenant('default'))?.inuse.cpu, 1000, 'still tried, undecided');
  const down = new Unavailable('the Resource-manager is unreachable');
  await t.rejects(settleTry({ cancel: () => Promise.reject(down) }, 'am-d', 'am'), down);
  await t.rejects(
    settleTry({ cancel: () => Promise.reject(new Forbidden('resource request am-d was confirmed; it cannot be cancelled')) }, 'am-d', 'am'),
    /was confirmed/,
    'the words alone are not the code',
  );
});

t.test('settling a try that was confirmed finds it held, whatever the refusal says', async (t) => {
  const { tcc, deps, insert } = await setup(t);
  const holder = await insert<Holder>('model', { _id: 'u/m', uid: 'm1', name: 'm', tenant: 'default', state: 'creating', res: 'trying' });
  await tcc.try({ id: holdTryId('mm', holder), applier: 'mm', request_type: 'request', tenant: 'default', cpu: 1 });
  await tcc.confirm(holdTryId('mm', holder), 'mm');
  const settled = await settleHold(deps.store.collection<Holder>('model'), holder, { applier: 'mm', amounts: () => ({ cpu: 1 }) }, deps);
  t.equal(settled?.res, 'held', 'settleHold');

  const ds = await insert<DatasetDoc>('dataset', { _id: 'u/d', uid: 'd1', name: 'd', user: 'u', tenant: 'default', size: 5, state: 'creating', progress: 0, heartbeat_at: '', rom: 'trying' });
  await tcc.try({ id: `dm-${ds.uid}`, applier: 'dm', request_type: 'request', tenant: 'default', rom: 5 });
  await tcc.confirm(`dm-${ds.uid}`, 'dm');
  t.equal((await settleRom(ds, deps))?.rom, 'held', 'settleRom');

  const job = await insert<JobDoc>('job', { _id: 'u/j', uid: 'j1', name: 'j', user: 'u', tenant: 'default', state: 'creating', res: 'trying', cpu: 1, gpu: 0, ram: 0, progress: 0 });
  await tcc.try({ id: `jm-${job.uid}-t0`, applier: 'jm', request_type: 'request', tenant: 'default', cpu: 1 });
  await tcc.confirm(`jm-${job.uid}-t0`, 'jm');
  t.ok(await settleTrying(job, deps), 'settleTrying changed the job');
  t.equal((await jobsCollection(deps.store).get('u/j'))?.res, 'held', 'settleTrying');
});

t.test('a release whose try expired answers expired, whatever the refusal says', async (t) => {
  const { tcc, deps, rm, tick } = await setup(t);
  await tcc.try({ id: 'held', applier: 'dm', request_type: 'request', tenant: 'default', rom: 10 });
  await tcc.confirm('held', 'dm');
  // The release's try landed, then expired before its confirm (a pass died between them).
  await tcc.try({ id: 'rel-0', applier: 'dm', request_type: 'release', tenant: 'default', rom: 10 });
  tick(120_000);
  await rm.reconcile();
  t.equal(await releaseOnce(deps, { id: 'rel-0', applier: 'dm', tenant: 'default', rom: 10, what: 'dataset u/d' }), 'expired');
  t.equal((await rm.getTenant('default'))?.inuse.rom, 10, 'still counted: the next attempt releases it');
  t.equal(await releaseOnce(deps, { id: 'rel-1', applier: 'dm', tenant: 'default', rom: 10, what: 'dataset u/d' }), 'released');
  t.equal((await rm.getTenant('default'))?.inuse.rom, 0);
});

t.test('a refusal that merely says the words does not count as the outcome', async (t) => {
  const { deps } = await setup(t);
  const says = (msg: string) => ({ ...deps, tcc: { ...deps.tcc, cancel: () => Promise.reject(new Forbidden(msg)), try: () => Promise.reject(new Forbidden(msg)) } }) as Deps;
  const ds = await datasetsCollection(deps.store).insert({ _id: 'u/x', uid: 'x1', name: 'x', user: 'u', tenant: 'default', size: 1, state: 'ready', progress: 100, heartbeat_at: '', rom: 'trying' });
  await t.rejects(settleRom(ds, says('resource request dm-x1 was confirmed; it cannot be cancelled')), /was confirmed/, 'not taken as confirmed');
  t.equal(await releaseOnce(says('resource request r was cancelled or timed out'), { id: 'r', applier: 'dm', tenant: 'default', rom: 1, what: 'x' }), 'released', 'not taken as expired');
});

t.test('the code crosses HTTP: the adapter answers it in a header, the HTTP transport reads it back', async (t) => {
  const log = createLogger({ component: 't', sinks: [memorySink()] });
  const server = http.createServer((_req, res) => {
    writeAnswer(res, errorAnswer(new Forbidden('reworded', { code: 'TCC_CONFIRMED' }), log, 'r1'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const err = await httpTransport(`http://127.0.0.1:${port}`, 'token')
    .cancel({ id: 'x', applier: 'dm' })
    .catch((e: unknown) => e);
  t.ok(refusedAs(err, 'TCC_CONFIRMED'), 'refused as confirmed');
  t.match(err, { message: 'reworded' }, 'the body is still {msg}');
});
