// TCC: try+confirm pairs per second from 50 concurrent callers on one tenant, through the
// Resource-manager (shared/tcc/resource-manager.ts) on the embedded store and on MongoDB
// (FerretDB), until the tenant's capacity is used up or the time is over; then 0 over-commit is
// checked (confirmed <= capacity, cpu_inuse equals what was confirmed). Baseline: the same
// store's bare compare-and-set rate (get, then update on version; one caller, one document).
//   npm run bench:tcc [-- --seconds 15 --callers 50 --quick]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Forbidden } from '../../shared/core/errors.js';
import { refusedAs } from '../../shared/tcc/ledger.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { openEmbeddedStore } from '../../shared/store/embedded.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import type { Doc, Store } from '../../shared/store/port.js';
import { ZERO } from '../../shared/tcc/amounts.js';
import { resourceManager } from '../../shared/tcc/resource-manager.js';
import { ownDatabase, run, say, section, servers } from './lib.js';
import { meets, ratio } from './report.js';

const { values: args } = parseArgs({
  options: { seconds: { type: 'string' }, callers: { type: 'string', default: '50' }, quick: { type: 'boolean', default: false }, 'no-mongo': { type: 'boolean', default: false } },
});
const SECONDS = Number(args.seconds ?? (args.quick ? 4 : 15));
const CALLERS = Number(args.callers);
/** Each pair asks for one thousandth of a core; the tenant holds this many. */
const CAPACITY: Record<string, number> = { embedded: 4000, mongodb: 1500 };

interface Counter extends Doc {
  n: number;
}

const TCC_GOAL = '>= 40 %';

run('tcc', async () => {
  const s = section('tcc', `TCC try+confirm, ${CALLERS} callers`);
  const log = createLogger({ component: 'bench', sinks: [memorySink()] });
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-bench-tcc-'));
  const infra = args['no-mongo'] ? undefined : await servers({ mongo: true });
  try {
    const backends: [string, () => Promise<Store>][] = [['embedded', () => openEmbeddedStore({ dir })]];
    if (infra?.mongo) backends.push(['mongodb', () => openMongoStore({ url: ownDatabase(infra.mongo as string, `benchtcc${process.pid}`), log })]);
    for (const [name, open] of backends) {
      const store = await open();
      try {
        const cas = await bareCas(store);
        const pairs = await tryConfirm(store, name, log);
        const r = ratio(pairs.rate, cas, '%');
        // The goal is the MongoDB-wire server's (docs/benchmarks.md); the embedded store's figure is for comparison.
        const goal = name === 'mongodb' ? { goal: TCC_GOAL, met: meets(TCC_GOAL, r.value) } : {};
        s.figure({
          name: `${name}: try+confirm pairs/s`,
          value: pairs.rate,
          unit: '/s',
          baseline: { name: 'uncontended compare-and-sets/s on one document (1 caller)', value: cas },
          ratio: r,
          ...goal,
        });
        s.figure({ name: `${name}: over-commit (confirmed beyond capacity or beside cpu_inuse)`, value: pairs.overCommit, unit: 'units', goal: '<= 0', met: pairs.overCommit <= 0 });
        s.note(
          `${name}: ${pairs.confirmed} pairs confirmed of a capacity of ${CAPACITY[name]}, ${pairs.refusedFull} tries refused for capacity, ${pairs.refusedBusy} for too many in flight (retried), in ${pairs.seconds.toFixed(1)} s; cpu_inuse ${pairs.inuse}`,
        );
      } finally {
        await store.close();
      }
    }
    if (!infra?.mongo) s.note('mongodb: not measured (--no-mongo)');
    s.note('a pair is a try and a confirm, each a compare-and-set on the tenant document plus an archive insert and a prune, so well under half the bare rate is the ceiling');
    s.save();
  } finally {
    await infra?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * Increments per second of one counter by get + conditional update on version, by one caller:
 * the store's uncontended compare-and-set rate. (The manager takes turns per tenant inside a
 * process, so 50 racing callers, most of whose updates lose, would be a lower, unfair baseline.)
 */
async function bareCas(store: Store): Promise<number> {
  const col = store.collection<Counter>('conformance');
  const doc = await col.insert({ _id: `c${process.pid}`, n: 0 } as never);
  let wins = 0;
  const until = performance.now() + (SECONDS * 1000) / 3;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 1 }, async () => {
      while (performance.now() < until) {
        const cur = await col.get(doc._id);
        if (!cur) throw new Error('the counter vanished');
        if (await col.update(cur._id, { version: cur.version } as never, { set: { n: cur.n + 1 } } as never)) wins += 1;
      }
    }),
  );
  const final = (await col.get(doc._id))?.n;
  if (final !== wins) throw new Error(`compare-and-set lost updates: ${wins} won, counter at ${final}`);
  return wins / ((performance.now() - t0) / 1000);
}

async function tryConfirm(store: Store, name: string, log: ReturnType<typeof createLogger>) {
  const rm = resourceManager(store, { now: () => new Date(), log, timeoutMs: 60_000 });
  const capacity = CAPACITY[name] ?? 1000;
  await rm.ensureTenant('bench', { ...ZERO, cpu: capacity });
  let confirmed = 0;
  let refusedFull = 0;
  let refusedBusy = 0;
  let full = false;
  let next = 0;
  const until = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (!full && performance.now() < until) {
        const id = `r${next++}`;
        try {
          await rm.try({ id, applier: 'jm', type: 'request', tenant: 'bench', amounts: { ...ZERO, cpu: 1 } });
        } catch (err) {
          if (!(err instanceof Forbidden)) throw err;
          if (refusedAs(err, 'TCC_TOO_MANY_PENDING')) {
            refusedBusy += 1;
            continue;
          }
          refusedFull += 1;
          full = true;
          return;
        }
        await rm.confirm(id, 'jm');
        confirmed += 1;
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const tenant = await rm.getTenant('bench');
  const inuse = tenant?.inuse.cpu ?? Number.NaN;
  // Over-commit: more confirmed than the capacity, or in-use counters that disagree with it.
  const overCommit = Math.max(0, confirmed - capacity) + Math.abs(inuse - confirmed);
  say(`  ${name}: confirmed ${confirmed}, cpu_inuse ${inuse} (thousandths), capacity ${capacity}`);
  return { rate: confirmed / seconds, confirmed, refusedFull, refusedBusy, seconds, inuse, overCommit };
}
