import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cliSession } from '../helpers/cli.js';
import { rightOf, X } from '../helpers/iris-rows.js';
import { until } from '../helpers/poll.js';

// examples/iris-sweep as its README runs it, with the `mlp` client on `npm start`'s setup
// (test/runtime/python-examples.test.ts runs the other Python examples there): the trials are real
// Keras trainings in runtime tf, the best trial (marked * by `mlp sweep show`) becomes a model and
// an app, which classifies the 150 iris rows through the app gateway. The sweep file's own grid
// (9 trials) is created as written and checked, then stopped; the trainings run a 2 × 2 grid given
// by `--space` over the same file, so the test takes minutes, not a quarter of an hour.
const REPO = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(REPO, 'examples/iris-sweep');
const FILE = path.join(EXAMPLE, 'sweep.yaml');
const SMALL = { lr: [0.1, 0.005], units: [4, 32] };

/** The rows of `mlp sweep show`'s table: mark, trial, state, value, epoch, lr, units. */
function tableRows(out: string) {
  return [...out.matchAll(/^([ *]) {2}(iris[a-z]) +(\S+) +(\S+) +(\S+) +lr=(\S+) units=(\S+)$/gm)].map((m) => ({
    best: m[1] === '*',
    job: m[2] as string,
    state: m[3] as string,
    value: Number(m[4]),
    epoch: Number(m[5]),
    lr: Number(m[6]),
    units: Number(m[7]),
  }));
}

// Four trainings with TensorFlow, an ONNX export each and a model server: longer than the 300 s default.
t.setTimeout(30 * 60_000);

t.test('examples/iris-sweep as its README runs it: sweep, trials, the best as a model and an app', async (t) => {
  const { work, p, mlp } = await cliSession(t, { MLP_TENANT_CPU: '4', MLP_TENANT_RAM: '8000' });
  const ok = async (...args: string[]) => {
    const r = await mlp(...args);
    t.equal(r.code, 0, `mlp ${args.join(' ')}${r.code === 0 ? '' : `: ${r.out}`}`);
    return r.out;
  };
  const listed = (what: string, re: RegExp) =>
    until(
      async () => (await mlp('sweep', 'ls')).out,
      (out) => re.test(out),
      what,
      { ms: 500, tries: 600 },
    );
  await ok('login', '--url', p.url, '--user', 'alice', '--password', 'password1');
  t.match(await ok('dataset', 'upload', path.join(REPO, 'examples/iris/data'), '--name', 'iris', '--quiet'), /dataset iris is ready/);
  t.match(await ok('home', 'put', path.join(EXAMPLE, 'train.py')), /stored \.home\/train\.py/);

  t.test("the example's sweep file as written: 9 trials irisa … irisi, 3 at once", async (t) => {
    t.match(await ok('sweep', 'create', 'iris', '--file', FILE), /^iris +running +0% +grid 9 trials, 3 at once +accuracy max +best -/m);
    t.same(
      tableRows(await ok('sweep', 'show', 'iris')).map((r) => [r.job, r.lr, r.units]),
      [0.1, 0.02, 0.005].flatMap((lr, i) => [4, 10, 32].map((units, j) => [`iris${'abcdefghi'[i * 3 + j]}`, lr, units])),
      'the first parameter varying slowest',
    );
    t.match(await ok('sweep', 'stop', 'iris'), /^iris /m);
    await listed('the stopped sweep ending', /^iris +finished +100% .*\(stopped by user\)/m);
    t.match(await ok('sweep', 'rm', 'iris'), /^iris +deleting/m);
    await listed('the sweep deleted with its trials', /no sweeps/);
  });

  t.test('a 2 × 2 grid (--space over the file) trains; its best trial becomes a model and an app', async (t) => {
    t.match(await ok('sweep', 'create', 'iris', '--file', FILE, '--space', JSON.stringify(SMALL)), /grid 4 trials, 3 at once/);
    // --follow prints the table every 2 s until the sweep ends: the last one is the final table.
    const shown = (await ok('sweep', 'show', 'iris', '--follow')).split('\n\n').at(-1) ?? '';
    t.match(shown, /^iris +finished +100% /m, `the sweep finished: ${shown}`);
    const rows = tableRows(shown);
    t.same(
      rows.map((r) => [r.job, r.state, r.lr, r.units]),
      [
        ['irisa', 'finished', 0.1, 4],
        ['irisb', 'finished', 0.1, 32],
        ['irisc', 'finished', 0.005, 4],
        ['irisd', 'finished', 0.005, 32],
      ],
      'every trial finished',
    );
    for (const r of rows) {
      t.match(await ok('job', 'logs', r.job), `lr ${r.lr} units ${r.units} epochs 20`, `${r.job} trained with its own point`);
      t.ok(r.epoch >= 1 && r.epoch <= 20, `${r.job}'s best epoch is one of its 20 (${r.epoch})`);
    }
    const best = rows.filter((r) => r.best);
    t.equal(best.length, 1, 'one trial is marked *');
    const star = best[0]?.job ?? '';
    t.equal(best[0]?.value, Math.max(...rows.map((r) => r.value)), `the marked trial has the highest accuracy (${rows.map((r) => r.value).join(', ')})`);
    t.match(await ok('sweep', 'ls'), new RegExp(`^iris +finished +100% .* best [\\d.]+ \\(${star}\\)$`, 'm'), 'the list names the same best trial');

    t.match(await ok('model', 'create', 'iris', '--src', star), /^iris +ready/m);
    t.match(await ok('app', 'create', 'iris', '--model', 'iris', '--cpu', '0.5', '--ram', '500'), /^iris +ready/m);
    const flowers = path.join(work, 'flowers.json');
    writeFileSync(
      flowers,
      JSON.stringify([
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
      ]),
    );
    const two = (JSON.parse(await ok('app', 'predict', 'iris', flowers)) as { predictions: number[][] }).predictions;
    t.same(
      two.map((probs) => probs.length),
      [3, 3],
      '3 probabilities per flower',
    );
    t.same(
      two.map((probs) => probs.indexOf(Math.max(...probs))),
      [0, 2],
      'a setosa and a virginica',
    );
    const rowsFile = path.join(work, 'rows.json');
    writeFileSync(rowsFile, JSON.stringify({ instances: X }));
    const all = (JSON.parse(await ok('app', 'predict', 'iris', rowsFile)) as { predictions: number[][] }).predictions;
    const right = rightOf(all.map((probs) => probs.indexOf(Math.max(...probs))));
    t.ok(right >= 135, `the best trial's model classifies ${right} of 150 rows right through the app gateway (≥ 90 %)`);
    t.match(await ok('app', 'rm', 'iris'), /app iris is deleting/);
  });
});
