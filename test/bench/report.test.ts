import t from 'tap';
import { END, formatFigure, meets, ratio, renderTable, replaceRegion, START, type Report } from '../../scripts/bench/report.js';

// The report's rendering only: no timing is measured or asserted here.
const report: Report = {
  machine: { cores: 2, cpu: 'Test CPU', node: 'v20.0.0', date: '2026-12-01T21:00:00.000Z' },
  benches: {
    api: {
      title: 'GET one dataset',
      figures: [
        { name: 'local gateway: req/s', value: 10_000, unit: 'req/s', baseline: { name: 'bare node:http', value: 25_000 }, ratio: ratio(10_000, 25_000, '%'), goal: '>= 50 %', met: false },
        { name: 'a | b', value: 3.5, unit: 'ms' },
      ],
      notes: ['profile: writev'],
    },
    cold: { title: 'Cold', figures: [{ name: 'RSS', value: 67.25, unit: 'MiB', goal: '<= 80 MiB', met: true }], notes: [] },
  },
};

t.test('ratios and goals', async (t) => {
  t.equal(ratio(1, 4, '%').value, 25);
  t.equal(ratio(6, 2, 'x').value, 3);
  t.ok(Number.isNaN(ratio(1, 0, 'x').value), 'no baseline, no ratio');
  t.ok(meets('>= 50 %', 50));
  t.notOk(meets('>= 50 %', 49.9));
  t.ok(meets('<= 3x', 2.9));
  t.throws(() => meets('about 3', 3), /must start with >= or <=/);
});

t.test('one printed line holds the figure, its baseline, the ratio and the goal', async (t) => {
  const figure = report.benches.api?.figures[0];
  if (!figure) throw new Error('no figure');
  const line = formatFigure(figure);
  t.match(line, /local gateway: req\/s\s+10000 req\/s \| baseline bare node:http 25000 req\/s \| ratio 40.0 % \| goal >= 50 % MISSED/);
  const zero = formatFigure({ name: 'p50', value: 2, unit: 'ms', baseline: { name: 'bare', value: 0 }, ratio: ratio(2, 0, 'x') });
  t.match(zero, /ratio none \(baseline 0\)/, 'a baseline of 0 has no ratio');
  t.notMatch(zero, /NaN/);
});

t.test('the table names the machine, has a row per figure, escapes pipes, lists notes', async (t) => {
  const table = renderTable(report);
  t.match(table, /^Measured 2026-12-01 21:00 UTC on 2 cores \(Test CPU\), Node v20\.0\.0\./);
  t.match(table, /\| api \| local gateway: req\/s \| 10000 req\/s \| bare node:http: 25000 req\/s \| 40.0 % \| >= 50 % \*\*missed\*\* \|/);
  t.match(table, /\| api \| a \\\| b \| 3.50 ms \| {2}\| {2}\| {2}\|/);
  t.match(table, /\| cold \| RSS \| 67.3 MiB \| {2}\| {2}\| <= 80 MiB ✓ \|/);
  t.match(table, /- api: profile: writev/);
  const later: Report = { ...report, benches: { ...report.benches, scale: { title: 'Scale', figures: [], notes: [], at: '2026-12-01T22:30:00.000Z' } } };
  t.match(renderTable(later), /^Measured 2026-12-01 21:00 to 2026-12-01 22:30 UTC/, 'benchmarks run at different times: the span');
});

t.test('only the region between the markers is rewritten', async (t) => {
  const readme = `# X\n\n## Benchmarks\ntext before\n${START}\nold table\n${END}\ntext after\n`;
  const once = replaceRegion(readme, 'NEW');
  t.equal(once, `# X\n\n## Benchmarks\ntext before\n${START}\nNEW\n${END}\ntext after\n`);
  t.equal(replaceRegion(once, 'NEW'), once, 'idempotent');
  t.throws(() => replaceRegion('# no markers', 'NEW'), /needs <!-- bench:start -->/);
  t.throws(() => replaceRegion(`${END}\n${START}`, 'NEW'), /in that order/);
});
