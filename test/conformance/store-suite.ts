import type { Test } from 'tap';
import { Conflict } from '../../shared/core/errors.js';
import type { Doc, Store } from '../../shared/store/port.js';
import { openStore, type StoreSpec } from './fixtures/open-store.js';
import { startRacer } from './racers.js';

interface Item extends Doc {
  user: string;
  name: string;
  n: number;
  state: string;
  note?: string;
}

export interface StoreUnderTest {
  /** How this process and the racing child processes open the store. */
  spec: StoreSpec;
  /** Whether several processes may have it open at once (the embedded store locks its directory to one). */
  shared: boolean;
}

/** The Store port's contract; every adapter runs it. */
export function storeConformance(t: Test, subject: StoreUnderTest): void {
  let store: Store;
  let seq = 0;
  const col = () => store.collection<Item>('conformance');
  const fresh = (over: Partial<Item> = {}) => {
    seq += 1;
    const name = `n${process.pid}x${seq}`;
    return { _id: `u/${name}`, user: 'u', name, n: 0, state: 'creating', ...over };
  };

  t.before(async () => {
    store = await openStore(subject.spec);
  });
  t.teardown(() => store.close());

  t.test('insert fills version and timestamps; get returns the document', async (t) => {
    const doc = await col().insert(fresh());
    t.equal(doc.version, 1);
    t.match(doc.created_at, /^\d{4}-\d\d-\d\dT/);
    t.equal(doc.created_at, doc.updated_at);
    t.same(await col().get(doc._id), doc);
    t.equal(await col().get('missing/id'), null);
  });

  t.test('a taken _id is a Conflict and leaves the first document as it was', async (t) => {
    const doc = await col().insert(fresh({ note: 'first' }));
    await t.rejects(col().insert({ ...fresh(), _id: doc._id, note: 'second' }), Conflict);
    t.equal((await col().get(doc._id))?.note, 'first');
  });

  t.test('upsertMany inserts the missing, sets fields of those there, bumps versions; the last of an _id wins', async (t) => {
    const there = await col().insert(fresh({ note: 'kept', n: 1 }));
    const a = fresh({ n: 10 });
    await col().upsertMany([a, { _id: there._id, user: there.user, name: there.name, n: 2, state: 'ready' }, { ...a, n: 11 }]);
    t.match(await col().get(a._id), { n: 11, state: 'creating', version: 2 }, 'inserted, then set again in the same write');
    const b = await col().get(there._id);
    t.match(b, { n: 2, state: 'ready', note: 'kept', version: 2, created_at: there.created_at }, 'fields set, others kept');
    t.ok((b?.updated_at ?? '') > there.updated_at, 'updated_at moves');
    await col().upsertMany([]);
    t.same(await col().get(there._id), b, 'an empty batch writes nothing');
  });

  t.test('find filters with equality and the port operators, oldest first', async (t) => {
    const user = `f${seq}`;
    const a = await col().insert(fresh({ user, n: 1, state: 'ready' }));
    const b = await col().insert(fresh({ user, n: 2, state: 'error', note: 'x' }));
    const c = await col().insert(fresh({ user, n: 3, state: 'ready' }));
    const ids = (docs: Item[]) => docs.map((d) => d._id);
    t.same(ids(await col().find({ user })), [a._id, b._id, c._id], 'ordered by creation');
    t.same(ids(await col().find({ user, state: 'ready' })), [a._id, c._id]);
    t.same(ids(await col().find({ user, state: { $in: ['error', 'deleting'] } })), [b._id]);
    t.same(ids(await col().find({ user, n: { $lt: 3, $gte: 2 } })), [b._id]);
    t.same(ids(await col().find({ user, state: { $ne: 'ready' } })), [b._id]);
    t.same(ids(await col().find({ user, note: null })), [a._id, c._id], 'null matches a missing field');
    t.same(ids(await col().find({ user, note: { $exists: true } })), [b._id]);
    t.same(ids(await col().find({ user }, { limit: 2 })), [a._id, b._id]);
  });

  t.test('documents made in the same millisecond keep their creation order', async (t) => {
    const user = `same${seq}`;
    const made: string[] = [];
    // Ids in reverse order, so an _id tie-break would reverse them.
    for (let i = 20; i > 0; i--) made.push((await col().insert(fresh({ user, _id: `${user}/${String(i).padStart(2, '0')}` }))).created_at);
    const found = await col().find({ user });
    t.same(
      found.map((d) => d._id),
      [...found]
        .map((d) => d._id)
        .sort()
        .reverse(),
      'creation order, not id order',
    );
    t.equal(new Set(made).size, made.length, 'no two creation times are equal');
  });

  t.test('pages: find after a cursor walks every document exactly once, in creation order', async (t) => {
    const user = `page${seq}`;
    const made: Item[] = [];
    for (let i = 0; i < 47; i++) made.push(await col().insert(fresh({ user, n: i })));
    await col().insert(fresh({ user: `${user}other` }));
    const ids = (docs: Item[]) => docs.map((d) => d._id);
    const all = await col().find({ user });
    t.same(ids(all), ids(made), 'the whole list, oldest first');
    const walk = async (limit: number) => {
      const seen: Item[] = [];
      let page = await col().find({ user }, { limit });
      let pages = 1;
      while (page.length > 0) {
        seen.push(...page);
        const last = page[page.length - 1] as Item;
        page = await col().find({ user }, { limit, after: { created_at: last.created_at, _id: last._id } });
        pages += 1;
      }
      return { seen, pages };
    };
    for (const limit of [1, 10, 47, 100]) {
      const { seen, pages } = await walk(limit);
      t.same(ids(seen), ids(made), `pages of ${limit}: each document once, in order`);
      t.equal(pages, Math.ceil(47 / limit) + 1, `pages of ${limit}: ${pages} reads, the last one empty`);
    }
    const mid = made[20] as Item;
    t.same(ids(await col().find({ user }, { after: mid })), ids(made.slice(21)), 'after without a limit: the rest');
    t.same(ids(await col().find({ user, state: 'creating', n: { $gte: 30 } }, { after: mid, limit: 3 })), ids(made.slice(30, 33)), 'after with other conditions');
    t.same(ids(await col().find({ user, created_at: { $lte: (made[25] as Item).created_at } }, { after: mid })), ids(made.slice(21, 26)), 'after with a condition on created_at itself');
    // Same instant, another _id (documents of other processes can share a created_at).
    t.same(ids(await col().find({ user }, { after: { created_at: mid.created_at, _id: '' } })), ids(made.slice(20)), 'same instant, smaller _id: the document is still ahead');
    t.same(ids(await col().find({ user }, { after: { created_at: mid.created_at, _id: `${mid._id}~` } })), ids(made.slice(21)), 'same instant, larger _id: the document is behind');
    // The cursor's document removed: the walk goes on from where it was.
    await col().remove(mid._id);
    t.same(ids(await col().find({ user }, { after: mid, limit: 2 })), ids(made.slice(21, 23)), 'a removed document still marks the place');
    t.same(await col().find({ user }, { after: made[46] as Item }), [], 'nothing after the last');
  });

  t.test('pages: documents inserted during the walk never repeat or reorder it, and come at its end', async (t) => {
    const user = `grow${seq}`;
    for (let i = 0; i < 40; i++) await col().insert(fresh({ user }));
    const originals = (await col().find({ user })).map((d) => d._id);
    const added: string[] = [];
    const seen: Item[] = [];
    let after: { created_at: string; _id: string } | undefined;
    for (;;) {
      const page = await col().find({ user }, { limit: 7, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      seen.push(...page);
      const last = page[page.length - 1] as Item;
      after = { created_at: last.created_at, _id: last._id };
      // Between pages, new documents arrive (while the walk is young, so it reaches them).
      if (added.length < 30) for (let k = 0; k < 3; k++) added.push((await col().insert(fresh({ user })))._id);
    }
    const ids = seen.map((d) => d._id);
    t.equal(new Set(ids).size, ids.length, 'no document twice');
    t.ok(
      seen.every((d, i) => i === 0 || (seen[i - 1] as Item).created_at < d.created_at || ((seen[i - 1] as Item).created_at === d.created_at && (seen[i - 1] as Item)._id < d._id)),
      'strictly in creation order',
    );
    t.same(ids, [...originals, ...added], 'every document that was there, then every one added during the walk');
  });

  t.test('update applies only when the condition matches', async (t) => {
    const doc = await col().insert(fresh({ note: 'gone soon' }));
    const lost = await col().update(doc._id, { state: 'ready' }, { set: { state: 'error' } });
    t.equal(lost, null, 'condition not met: no update');
    t.equal((await col().get(doc._id))?.version, 1, 'and nothing changed');
    const won = await col().update(doc._id, { state: 'creating', version: 1 }, { set: { state: 'ready' }, inc: { n: 5 }, unset: ['note'] });
    t.equal(won?.state, 'ready');
    t.equal(won?.n, 5);
    t.equal(won?.version, 2);
    t.notOk(won && 'note' in won, 'unset removes the field');
    t.same(await col().get(doc._id), won);
    t.equal(await col().update('missing/id', {}, { set: { state: 'x' } }), null);
  });

  t.test('remove honours its condition', async (t) => {
    const doc = await col().insert(fresh());
    t.equal(await col().remove(doc._id, { state: 'deleting' }), false);
    t.ok(await col().get(doc._id));
    t.equal(await col().remove(doc._id, { state: 'creating' }), true);
    t.equal(await col().get(doc._id), null);
    t.equal(await col().remove(doc._id), false, 'removing twice is harmless');
  });

  t.test('documents survive closing and reopening the store', async (t) => {
    const doc = await col().insert(fresh({ note: 'durable' }));
    await col().update(doc._id, {}, { inc: { n: 2 } });
    const gone = await col().insert(fresh());
    await col().remove(gone._id);
    await store.close();
    store = await openStore(subject.spec);
    t.equal((await col().get(doc._id))?.n, 2);
    t.equal(await col().get(gone._id), null);
  });

  t.test('racing conditional updates: exactly as many win as the condition allows', async (t) => {
    const doc = await col().insert(fresh());
    const attempts = await Promise.all(Array.from({ length: 60 }, () => col().update(doc._id, { n: { $lt: 25 } }, { inc: { n: 1 } })));
    t.equal(attempts.filter(Boolean).length, 25);
    t.equal((await col().get(doc._id))?.n, 25);
  });

  t.test('racing compare-and-set on version: no lost update', async (t) => {
    const doc = await col().insert(fresh());
    const bump = async () => {
      for (;;) {
        const cur = await col().get(doc._id);
        if (cur && (await col().update(doc._id, { version: cur.version }, { set: { n: cur.n + 1 } }))) return;
      }
    };
    await Promise.all(Array.from({ length: 40 }, bump));
    t.equal((await col().get(doc._id))?.n, 40);
  });

  t.test('processes race conditional updates on one document: exactly one wins each round', async (t) => {
    const [processes, lanes, rounds] = [3, 4, 25];
    const id = fresh()._id;
    // This process lets go of the store, so on the embedded one a racer can take it.
    await store.close();
    try {
      const racers = Array.from({ length: processes }, () => startRacer(t, subject.spec, id, rounds, lanes));
      const first = await Promise.all(racers.map((r) => r.line(/^(opened|refused .*)$/)));
      const racing = racers.filter((_, i) => first[i] === 'opened');
      if (subject.shared) t.equal(racing.length, processes, `all ${processes} processes opened the store`);
      else {
        t.equal(racing.length, 1, 'one process opened the store');
        t.ok(
          first.filter((l) => l !== 'opened').every((l) => /is in use by process/.test(l)),
          `the others were refused: ${JSON.stringify(first)}`,
        );
      }
      for (const r of racing) r.send('go');
      await Promise.all(racing.map((r) => r.line(/^done$/)));
      const winners = new Map<number, number>();
      for (const r of racing) for (const l of r.lines) if (l.startsWith('won ')) winners.set(Number(l.slice(4)), (winners.get(Number(l.slice(4))) ?? 0) + 1);
      const wrong = Array.from({ length: rounds }, (_, round) => ({ round, winners: winners.get(round) ?? 0 })).filter((w) => w.winners !== 1);
      const perProcess = racing.map((r) => r.lines.filter((l) => l.startsWith('won ')).length);
      t.same(wrong, [], `each of ${rounds} rounds had exactly one winner among ${racing.length * lanes} lanes (rounds won per process: ${perProcess.join(', ')})`);
      for (const r of racing) r.send('close');
      t.same(
        await Promise.all(racers.map((r) => r.exited)),
        racers.map(() => 0),
        'every racer exited cleanly',
      );
    } finally {
      store = await openStore(subject.spec);
    }
    const doc = await col().get(id);
    t.equal(doc?.n, rounds, 'one increment per round');
  });
}
