import t from 'tap';
import { ZERO, type Amounts } from './amounts.js';
import { decideCancel, decideConfirm, decidedIds, decideTry, expireTries, MAX_PENDING_REQUESTS, withoutEntries, type Entry, type Ledger } from './ledger.js';

const cap: Amounts = { cpu: 10_000, gpu: 2, ram: 1000, rom: 100 };
const empty = (): Ledger => ({ capacity: cap, inuse: ZERO, requests: {} });
const amt = (a: Partial<Amounts>): Amounts => ({ ...ZERO, ...a });

t.test('a request try reserves at once; a repeat reserves nothing more', async (t) => {
  const req = { id: 'a', applier: 'jm' as const, type: 'request' as const, amounts: amt({ cpu: 1500, ram: 100 }) };
  const first = decideTry(empty(), req, undefined, 1);
  t.same(first.ledger?.inuse, amt({ cpu: 1500, ram: 100 }));
  t.equal(first.ledger?.requests.a?.state, 'reserved');
  const l = first.ledger as Ledger;
  t.same(decideTry(l, req, l.requests.a, 2), { ledger: null }, 'same content: 200, no change');
  t.match(decideTry(l, { ...req, amounts: amt({ cpu: 1 }) }, l.requests.a, 2).refuse?.msg, /different content/);
  t.match(decideTry(l, { ...req, applier: 'dm' }, l.requests.a, 2).refuse?.msg, /different content/);
});

t.test('fit: never-fits and not-now are told apart, with what was free', async (t) => {
  const l = decideTry(empty(), { id: 'a', applier: 'jm', type: 'request', amounts: amt({ gpu: 2 }) }, undefined, 1).ledger as Ledger;
  t.match(decideTry(l, { id: 'b', applier: 'jm', type: 'request', amounts: amt({ gpu: 3 }) }, undefined, 1).refuse?.msg, /can never fit the tenant: needs gpu 3; capacity gpu 2/);
  t.match(decideTry(l, { id: 'b', applier: 'jm', type: 'request', amounts: amt({ gpu: 1 }) }, undefined, 1).refuse?.msg, /does not fit now: needs gpu 1; free gpu 0/);
  t.ok(decideTry(l, { id: 'c', applier: 'jm', type: 'request', amounts: amt({ cpu: 10_000 }) }, undefined, 1).ledger, 'exactly the free amount fits');
});

t.test('confirm and cancel follow the state machine', async (t) => {
  const l = decideTry(empty(), { id: 'a', applier: 'am', type: 'request', amounts: amt({ ram: 300 }) }, undefined, 1).ledger as Ledger;
  t.match(decideConfirm(l, 'a', 'jm', l.requests.a, 2).refuse?.msg, /belongs to applier am, not jm/);
  t.match(decideCancel(l, 'a', 'jm', l.requests.a, 2).refuse?.msg, /belongs to applier am/);
  const confirmed = decideConfirm(l, 'a', 'am', l.requests.a, 2).ledger as Ledger;
  t.equal(confirmed.requests.a?.state, 'confirmed');
  t.same(confirmed.inuse, l.inuse, 'confirming a request does not count it twice');
  t.same(decideConfirm(confirmed, 'a', 'am', confirmed.requests.a, 3), { ledger: null });
  t.match(decideCancel(confirmed, 'a', 'am', confirmed.requests.a, 3).refuse, { code: 'TCC_CONFIRMED', msg: /was confirmed; it cannot be cancelled/ });
  const cancelled = decideCancel(l, 'a', 'am', l.requests.a, 2).ledger as Ledger;
  t.same(cancelled.inuse, ZERO, 'cancel gives it back');
  t.same(decideCancel(cancelled, 'a', 'am', cancelled.requests.a, 3), { ledger: null });
  t.match(decideConfirm(cancelled, 'a', 'am', cancelled.requests.a, 3).refuse, { code: 'TCC_CANCELLED', msg: /cancelled or timed out; it cannot be confirmed/ });
});

t.test('unknown ids: confirm is a no-op, cancel leaves a tombstone that refuses a late try', async (t) => {
  t.same(decideConfirm(empty(), 'x', 'dm', undefined, 1), { ledger: null });
  const l = decideCancel(empty(), 'x', 'dm', undefined, 1).ledger as Ledger;
  t.match(l.requests.x, { type: 'tombstone', state: 'cancelled' });
  const late = decideTry(l, { id: 'x', applier: 'dm', type: 'request', amounts: amt({ rom: 1 }) }, l.requests.x, 2);
  t.match(late.refuse, { code: 'TCC_CANCELLED', msg: /a late try is refused/ });
  t.equal(late.ledger, null);
});

t.test('a release changes nothing until confirmed, and never below zero', async (t) => {
  const reserved = decideTry(empty(), { id: 'r', applier: 'dm', type: 'request', amounts: amt({ rom: 60 }) }, undefined, 1).ledger as Ledger;
  t.match(
    decideTry(reserved, { id: 'early', applier: 'dm', type: 'release', amounts: amt({ rom: 1 }) }, undefined, 1).refuse?.msg,
    /in use \(confirmed\) rom 0/,
    'a reservation not yet confirmed cannot be released',
  );
  const held = decideConfirm(reserved, 'r', 'dm', reserved.requests.r, 1).ledger as Ledger;
  t.match(
    decideTry(held, { id: 'big', applier: 'dm', type: 'release', amounts: amt({ rom: 61 }) }, undefined, 1).refuse?.msg,
    /release is larger than what is in use: releasing rom 61; in use \(confirmed\) rom 60/,
  );
  const tried = decideTry(held, { id: 'rel', applier: 'dm', type: 'release', amounts: amt({ rom: 50 }) }, undefined, 1).ledger as Ledger;
  t.same(tried.inuse, held.inuse, 'a release try changes nothing yet');
  const second = decideTry(tried, { id: 'rel2', applier: 'dm', type: 'release', amounts: amt({ rom: 50 }) }, undefined, 1).ledger as Ledger;
  const done = decideConfirm(second, 'rel', 'dm', second.requests.rel, 2).ledger as Ledger;
  t.same(done.inuse, amt({ rom: 10 }));
  t.match(decideConfirm(done, 'rel2', 'dm', done.requests.rel2, 3).refuse?.msg, /larger than what is in use/, 'the second release no longer fits');
  const cancelledRelease = decideCancel(done, 'rel2', 'dm', done.requests.rel2, 3).ledger as Ledger;
  t.same(cancelledRelease.inuse, done.inuse, 'cancelling a release gives nothing back');
});

t.test('tries older than the timeout are cancelled; reserved ones give their amounts back', async (t) => {
  let l = decideTry(empty(), { id: 'old', applier: 'jm', type: 'request', amounts: amt({ cpu: 100 }) }, undefined, 0).ledger as Ledger;
  l = decideTry(l, { id: 'new', applier: 'jm', type: 'request', amounts: amt({ cpu: 200 }) }, undefined, 900).ledger as Ledger;
  l = decideTry(l, { id: 'kept', applier: 'jm', type: 'request', amounts: amt({ cpu: 400 }) }, undefined, 0).ledger as Ledger;
  l = decideConfirm(l, 'kept', 'jm', l.requests.kept, 1).ledger as Ledger;
  const out = expireTries(l, 1000, 1000);
  t.same(out.expired, ['old']);
  t.same(out.ledger?.inuse, amt({ cpu: 600 }));
  t.same(expireTries(out.ledger as Ledger, 1000, 1000), { ledger: null, expired: [] }, 'a second pass changes nothing');
});

t.test('the ledger holds a bounded number of requests; beyond, a new try is refused (403) and changes nothing', async (t) => {
  t.equal(MAX_PENDING_REQUESTS, 10_000);
  let l = empty();
  for (const id of ['a', 'b', 'c']) l = decideTry(l, { id, applier: 'dm', type: 'request', amounts: amt({ rom: 1 }) }, undefined, 1, 3).ledger as Ledger;
  const over = decideTry(l, { id: 'd', applier: 'dm', type: 'request', amounts: amt({ rom: 1 }) }, undefined, 1, 3);
  t.match(over, { ledger: null, refuse: { code: 'TCC_TOO_MANY_PENDING', msg: /too many resource requests in flight for this tenant \(3, at most 3\)/ } });
  t.match(decideTry(l, { id: 'd', applier: 'dm', type: 'release', amounts: ZERO }, undefined, 1, 3).refuse?.msg, /too many/, 'releases too');
  t.same(decideTry(l, { id: 'a', applier: 'dm', type: 'request', amounts: amt({ rom: 1 }) }, l.requests.a, 2, 3), { ledger: null }, 'a repeated try is still idempotent at the cap');
  t.ok(decideConfirm(l, 'a', 'dm', l.requests.a, 2).ledger, 'confirm is never capped');
  t.ok(decideCancel(l, 'zz', 'dm', undefined, 2).ledger, 'nor is a tombstone: it leaves the ledger at once');
  const confirmed = decideConfirm(l, 'a', 'dm', l.requests.a, 2).ledger as Ledger;
  t.same(decidedIds(confirmed), ['a']);
  const pruned = withoutEntries(confirmed, decidedIds(confirmed));
  t.same(Object.keys(pruned.requests), ['b', 'c']);
  t.same(pruned.inuse, confirmed.inuse, 'archiving changes nothing in use');
  t.ok(decideTry(pruned, { id: 'd', applier: 'dm', type: 'request', amounts: amt({ rom: 1 }) }, undefined, 3, 3).ledger, 'room again once a decided request left');
});

t.test('random sequences keep the invariant: in use = reserved-or-confirmed requests − confirmed releases ≤ capacity', async (t) => {
  // As the Resource-manager does, decided requests move from the ledger to an archive at random
  // moments; decisions then read them from there (ledger first, archive after).
  let seed = 7;
  const rand = (n: number) => (seed = (seed * 48271) % 2147483647) % n;
  let l = empty();
  const archive: Record<string, Entry> = {};
  const appliers = ['dm', 'jm', 'am', 'mm'] as const;
  let violations = 0;
  let archivedChanges = 0;
  let fromArchive = 0;
  for (let step = 0; step < 5000; step++) {
    const id = `r${rand(300)}`;
    const applier = appliers[rand(4)] ?? 'jm';
    const known = l.requests[id] ?? archive[id];
    const op = rand(11);
    let out;
    if (op < 5) {
      const amounts = amt({ cpu: rand(3000), gpu: rand(2), ram: rand(400), rom: rand(40) });
      out = decideTry(l, { id, applier, type: rand(3) === 0 ? 'release' : 'request', amounts }, known, step);
    } else if (op < 8) out = decideConfirm(l, id, applier, known, step);
    else if (op < 9) out = decideCancel(l, id, applier, known, step);
    else if (op < 10) out = expireTries(l, step, 200);
    else {
      for (const d of decidedIds(l)) archive[d] = l.requests[d] as Entry;
      out = { ledger: withoutEntries(l, decidedIds(l)) };
    }
    if (op < 9 && !l.requests[id] && archive[id]) {
      fromArchive += 1;
      if (out.ledger) archivedChanges += 1;
    }
    if (out.ledger) l = out.ledger;
    const sum = [
      ...Object.values(l.requests),
      ...Object.entries(archive)
        .filter(([a]) => !l.requests[a])
        .map(([, e]) => e),
    ].reduce((acc, e) => {
      if (e.type === 'request' && (e.state === 'reserved' || e.state === 'confirmed')) for (const k of ['cpu', 'gpu', 'ram', 'rom'] as const) acc[k] += e.amounts[k];
      if (e.type === 'release' && e.state === 'confirmed') for (const k of ['cpu', 'gpu', 'ram', 'rom'] as const) acc[k] -= e.amounts[k];
      return acc;
    }, amt({}));
    const ok = (['cpu', 'gpu', 'ram', 'rom'] as const).every((k) => l.inuse[k] === sum[k] && l.inuse[k] >= 0 && l.inuse[k] <= cap[k]);
    if (!ok) {
      if (violations === 0) t.comment(`first violation at step ${step}, op ${op}, id ${id}: inuse ${JSON.stringify(l.inuse)} sum ${JSON.stringify(sum)}`);
      violations += 1;
    }
  }
  t.equal(violations, 0, 'the invariant held after every one of 5000 random decisions');
  t.ok(fromArchive > 100, `${fromArchive} decisions were made on archived requests`);
  t.equal(archivedChanges, 0, 'and none of them changed the ledger');
  const all = [...Object.values(l.requests), ...Object.values(archive)];
  t.ok(all.some((e) => e.state === 'confirmed') && all.some((e) => e.state === 'cancelled'), 'the sequence reached both outcomes');
});
