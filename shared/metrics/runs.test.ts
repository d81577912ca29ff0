import t from 'tap';
import { RELOAD_MS } from './bounds.js';
import { type Run, Runs } from './runs.js';

/** Runs over a table standing in for the store, counting its reads, on a clock the test moves. */
function runs(table: Map<string, Run>) {
  let reads = 0;
  let clock = 0;
  const r = new Runs(
    async (user, name) => {
      reads++;
      return table.get(`${user}/${name}`) ?? null;
    },
    () => clock,
  );
  return { r, reads: () => reads, tick: (ms: number) => (clock += ms) };
}

t.test('a run is read once, at its first metric; then answered from memory', async (t) => {
  const { r, reads } = runs(new Map([['alice/a', { jobId: 'j1', running: true }]]));
  for (let i = 0; i < 100; i++) t.equal(await r.accepts('alice', 'a', 'j1'), true);
  t.equal(reads(), 1);
  t.equal(await r.accepts('bob', 'x', 'j9'), false, 'a job without a run');
});

t.test('an id not known, or a run known ended, is read again at most once per RELOAD_MS', async (t) => {
  const table = new Map([['alice/a', { jobId: 'j1', running: true }]]);
  const { r, reads, tick } = runs(table);
  t.equal(await r.accepts('alice', 'a', 'j1'), true);
  table.set('alice/a', { jobId: 'j2', running: true });
  for (let i = 0; i < 10; i++) t.equal(await r.accepts('alice', 'a', 'j2'), false, 'a :begin not announced yet');
  t.equal(reads(), 1, 'not read again within RELOAD_MS');
  tick(RELOAD_MS);
  t.equal(await r.accepts('alice', 'a', 'j2'), true, 'read again after it');
  r.ended('alice', 'a');
  t.equal(await r.accepts('alice', 'a', 'j2'), false, 'ended in memory (a last progress of 100)');
  table.set('alice/a', { jobId: 'j2', running: false });
  await r.reload('alice', 'a');
  t.same(r.peek('alice', 'a'), { jobId: 'j2', running: false }, 'an announcement reads it again at once');
  t.equal(reads(), 3);
});
