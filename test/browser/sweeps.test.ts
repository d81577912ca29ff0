import path from 'node:path';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { until } from '../helpers/poll.js';
import { ARTIFACTS, launch } from './browser.js';

// Sweeps and compare runs in Debian's chromium (docs/api.md#experiments, "Job metrics"): a sweep started from the
// form, its trials appearing while the compare chart gains their series, the best trial opened and made a model;
// then 100 runs of 10,000 epochs overlaid while the page keeps answering. Kept apart from ui.test.ts, which is
// over 300 lines already.
const poll = <T>(read: () => Promise<T>, done: (v: T) => boolean, what: string, tries = 600): Promise<T> => until(read, done, what, { tries, ms: 100 });
const msgOf = async (p: TestPlatform, ...args: Parameters<TestPlatform['call']>) => ((await p.call(...args)).json as { msg: string }).msg;

// A trial: a few epochs whose accuracy grows with lr and units (its point, from params()), then a file in ckpt/ so
// a model can be made of it.
const TRIAL = `
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { close, params, publishMetrics } from '@mlp/runtime';
const { lr = 0.01, units = 8 } = params();
const EPOCHS = 6;
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  const accuracy = Math.min(0.99, (units / 16) * (1 - Math.exp(-lr * 10 * (epoch + 1))));
  await publishMetrics({ epoch, accuracy, loss: 1 - accuracy, progress: Math.round(((epoch + 1) * 100) / EPOCHS) });
  await new Promise((r) => setTimeout(r, 250));
}
writeFileSync(path.join(process.env.MLP_WORKSPACE, 'ckpt', 'point.json'), JSON.stringify({ lr, units }));
await close();
`;

async function userPage(t: Test, p: TestPlatform, user: string): Promise<{ page: Page; token: string }> {
  await p.call('POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
  const token = (await p.call('GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] })).json as string;
  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(`${p.url}/regist_login`);
  await page.getByLabel('Username', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill('password1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${p.url}/index`);
  return { page, token };
}

t.test('a sweep from the form: trials appear, the compare chart gains them, the best one becomes a model', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  const { page, token } = await userPage(t, p, 'dave');
  t.equal((await p.call('PUT', '/data/dave/.home/trial.mjs', { token, rawBody: TRIAL, headers: { 'content-type': 'application/octet-stream' } })).status, 201, 'the trial script in the home');

  // A space the API refuses: its msg on the page.
  const bad = { name: 'hp', entry: 'trial.mjs', space: { lr: [] }, metric: 'accuracy' };
  const badMsg = await msgOf(p, 'POST', '/api/v1/users/dave/sweeps', { token, body: bad });
  await page.getByLabel('Sweep name').fill('hp');
  await page.getByLabel('Sweep entry').fill('trial.mjs');
  await page.getByLabel('Search space (JSON)').fill('{"lr": []}');
  await page.getByRole('button', { name: 'Start sweep' }).click();
  await page.getByRole('alert').filter({ hasText: badMsg }).waitFor();
  t.pass(`sweep create refused with the API's msg: ${badMsg}`);

  await page.getByLabel('Search space (JSON)').fill('{"lr": [0.01, 0.1], "units": [8, 16]}');
  await page.getByLabel('Parallel').fill('2');
  await page.getByLabel('CPU per trial').fill('0.5');
  await page.getByLabel('RAM per trial (Mi)').fill('500');
  await page.getByRole('button', { name: 'Start sweep' }).click();
  await page.getByText('sweep hp is running (4 trials)').waitFor();

  const trialRows = page.locator('#trials tbody tr');
  const compareChart = page.locator('#compare figure.compare-chart');
  const seriesSeen = new Set<number>();
  const rowsSeen = new Set<number>();
  const sweep = async () => (await p.call('GET', '/api/v1/users/dave/sweeps/hp', { token })).json as { state: string; best: { job: string; value: number } | null };
  await poll(
    async () => {
      rowsSeen.add(Number((await page.locator('#sweep-detail').getAttribute('data-trials')) ?? 0));
      seriesSeen.add(Number((await compareChart.getAttribute('data-series')) ?? 0));
      return (await sweep()).state;
    },
    (s) => s !== 'running',
    'sweep hp ending',
    1800,
  );
  const done = await sweep();
  t.equal(done.state, 'finished', 'the sweep finished');
  await poll(
    () => compareChart.getAttribute('data-series'),
    (v) => v === '4',
    'four trials compared',
  );
  t.ok([...seriesSeen].filter((n) => n > 0 && n < 4).length >= 1, `the compare chart gained series as trials started (${[...seriesSeen].sort().join(', ')})`);
  t.ok(rowsSeen.size >= 2, `trials appeared in the table over time (${[...rowsSeen].sort().join(', ')})`);
  t.equal(await compareChart.getAttribute('data-plot-series'), '8', 'one accuracy and one loss series per trial in one plot');
  await poll(
    async () => Number(await compareChart.getAttribute('data-points')),
    (n) => n === 24,
    'every epoch of the four trials on the compare chart',
  );

  // Sorted by the metric, best first and marked, the same best as the API's.
  await poll(
    () => trialRows.count(),
    (n) => n === 4,
    'four trial rows',
  );
  const best = done.best?.job ?? '';
  await poll(
    () => trialRows.first().getAttribute('data-job'),
    (j) => j === best,
    'the best trial first',
  );
  t.match(await trialRows.first().textContent(), /★ best/, 'the best trial marked');
  t.equal(await page.locator('#trials tr.best').count(), 1, 'one best');
  const values = await trialRows.locator('td:nth-child(3)').allTextContents();
  t.same(
    values.map(Number),
    [...values.map(Number)].sort((a, b) => b - a),
    `trials sorted by accuracy, best first (${values.join(', ')})`,
  );
  t.equal(await page.locator('#sweep-scatter svg').count(), 2, 'one scatter per parameter');
  t.equal(await page.locator('#sweep-scatter svg circle').count(), 8, 'a dot per trial in each');
  await page.locator('#sweeps').screenshot({ path: path.join(ARTIFACTS, 'sweeps.png') });

  // The best trial's job opens the jobs panel's detail: its chart and log.
  await page.getByRole('link', { name: `Show metrics and log of trial ${best}` }).click();
  await poll(
    () => page.locator('#job-detail figure.chart').getAttribute('data-points'),
    (v) => v === '6',
    "the best trial's six epochs on its own chart",
  );
  t.equal(await page.locator('#job-detail-title').textContent(), `Job ${best}`, 'the job detail shows the best trial');

  // A model of the best trial, by the models panel's own call, once the table shows it finished.
  await poll(
    () => trialRows.first().locator('td').nth(1).textContent(),
    (v) => v === 'finished',
    'the best trial finished in the table',
  );
  await page.getByLabel('Name of the new model').fill('best');
  await page.getByRole('button', { name: 'Make a model of the best trial' }).click();
  const said = await poll(
    () => page.locator('#sweep-detail .msg').textContent(),
    (v) => /model|error|trial|refus/.test(v ?? ''),
    'the model form answering',
  );
  t.match(said, new RegExp(`^model best is \\w+ \\(from trial ${best}\\)$`), `the model form said: ${said}`);
  await poll(
    () => page.locator('#models tr[data-name="best"] td').nth(1).textContent(),
    (v) => v === 'ready',
    'model best ready',
    1200,
  );
  t.equal(await page.locator('#models tr[data-name="best"] td').nth(3).textContent(), best, 'the model is made from the best trial');

  // Jobs ticked in the jobs table replace the sweep's trials in the compare view.
  await page.getByRole('checkbox', { name: 'Compare job hpa' }).check();
  await page.getByRole('checkbox', { name: 'Compare job hpb' }).check();
  await poll(
    () => compareChart.getAttribute('data-series'),
    (v) => v === '2',
    'two ticked jobs compared',
  );
  t.equal(await page.locator('#compare-source').textContent(), 'Comparing 2 jobs: ticked in the jobs table.', 'the compare view says where its jobs came from');
  // A job of the table with retries says its attempt.
  t.equal((await p.call('POST', '/api/v1/users/dave/jobs', { token, body: { name: 'again', entry: 'trial.mjs', cpu: 0.5, ram: 500, retries: 2 } })).status, 201, 'a job with retries');
  await poll(
    () => page.locator('#jobs tr[data-name="again"] td').nth(1).textContent(),
    (v) => /attempt [1-3]\/3/.test(v ?? ''),
    'attempt n/3 in the State column',
  );

  await page.getByRole('button', { name: 'Delete sweep hp' }).click();
  await poll(
    () => page.locator('#sweeps tr[data-name="hp"]').count(),
    (n) => n === 0,
    'sweep hp gone from the page',
    1200,
  );
  t.equal(await page.locator('#sweep-detail').isHidden(), true, "the deleted sweep's detail closed");
});

t.test('100 runs × 10,000 epochs in one compare chart: drawn, and the page keeps answering', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  const { page } = await userPage(t, p, 'erin');
  const jobs = Array.from({ length: 100 }, (_, i) => `run${String(i).padStart(3, '0')}`);
  let asked = '';
  // The compare answer as the API gives it (docs/api.md#job-metrics): each run thinned to points=, first and last kept.
  await page.route(
    (url) => url.pathname === '/api/v1/users/erin/job_metrics' && url.searchParams.has('jobs'),
    async (route) => {
      const url = new URL(route.request().url());
      asked = url.search;
      const n = Number(url.searchParams.get('points') ?? 1000);
      const body: Record<string, unknown[]> = {};
      (url.searchParams.get('jobs') ?? '').split(',').forEach((job, k) => {
        body[job] = Array.from({ length: n }, (_, i) => {
          const epoch = Math.round((i * 9999) / (n - 1));
          return { user: 'erin', name: job, epoch, accuracy: 1 - (0.5 + k / 200) / (epoch / 50 + 1), loss: (1 + k / 100) / (epoch / 50 + 1), progress: 100 };
        });
      });
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(body) });
    },
  );
  await page.getByLabel('Jobs to compare').fill(jobs.join(', '));
  await page.getByRole('button', { name: 'Compare', exact: true }).click();
  const chart = page.locator('#compare figure.compare-chart');
  await poll(
    () => chart.getAttribute('data-series'),
    (v) => v === '100',
    '100 runs on the chart',
  );
  t.match(asked, /points=1000/, 'the history is asked thinned');
  t.equal(await chart.getAttribute('data-plot-series'), '200', '200 series (accuracy and loss) in one uPlot');
  t.equal(await chart.getAttribute('data-points'), '100000', '1,000 points of each of 100 runs');
  t.equal(await chart.locator('canvas').count(), 1, 'one canvas');
  t.equal(await chart.locator('.compare-legend li').count(), 100, 'one legend entry per run');
  t.match(await chart.locator('.chart-status').textContent(), /up to epoch 9999/, 'spanning 10,000 epochs');
  t.ok(Number(await chart.getAttribute('data-draws')) < 10, 'drawn in a few frames, not once per run');
  // Frames keep coming and a click is answered while the cursor sweeps the chart (no timing asserted).
  const box = await chart.locator('canvas').boundingBox();
  const framesBefore = (await page.evaluate('new Promise((r) => { let n = 0; const f = () => (++n < 30 ? requestAnimationFrame(f) : r(n)); requestAnimationFrame(f); })')) as number;
  if (box) for (let x = 0; x < 10; x++) await page.mouse.move(box.x + (box.width * x) / 10, box.y + box.height / 2);
  t.equal(framesBefore, 30, '30 animation frames ran with the chart shown');
  await page.getByRole('button', { name: 'Copy token' }).click();
  await page.locator('#toast').filter({ hasText: /token/ }).waitFor();
  t.pass('a click is answered with 200 series drawn');
  await page.locator('#compare').screenshot({ path: path.join(ARTIFACTS, 'compare-100.png') });
});
