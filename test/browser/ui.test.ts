import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Page, WebSocketRoute } from 'playwright-core';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { until } from '../helpers/poll.js';
import { ARTIFACTS, launch } from './browser.js';

// The web UI the way a person uses it, in Debian's chromium: register, log in, copy the token,
// upload a folder as a dataset, train examples/iris/train.mjs while its chart grows, make a
// model, deploy an app, predict from the page, delete everything, log out.
const REPO = path.resolve(import.meta.dirname, '../..');
const row = (page: Page, table: string, name: string) => page.locator(`#${table} tr[data-name="${name}"]`);
const cell = (page: Page, table: string, name: string, col: number) => row(page, table, name).locator('td').nth(col);
const poll = <T>(read: () => Promise<T>, done: (v: T) => boolean, what: string, tries = 600): Promise<T> => until(read, done, what, { tries, ms: 100 });
const msgOf = async (p: TestPlatform, ...args: Parameters<TestPlatform['call']>) => ((await p.call(...args)).json as { msg: string }).msg;

t.test('the whole path through the browser UI', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  const browser = await launch(t);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: p.url });
  const page = await context.newPage();
  const failed: string[] = [];
  page.on('requestfailed', (r) => failed.push(r.url()));
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(p.url) && !r.url().startsWith(p.url.replace('http', 'ws')) && !r.url().startsWith('data:')) outside.push(r.url());
  });

  await page.goto(`${p.url}/`);
  await page.getByRole('heading', { name: 'Log in' }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'login.png') });

  // Register: a refusal shows the API's msg, then a registration leads to /index.
  await p.call('POST', '/api/v1/users', { body: { username: 'taken', password: 'password1' } });
  const takenMsg = await msgOf(p, 'POST', '/api/v1/users', { body: { username: 'taken', password: 'password1' } });
  await page.getByLabel('New username').fill('taken');
  await page.getByLabel('New password').fill('password1');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('alert').filter({ hasText: takenMsg }).waitFor();
  t.pass(`register refused with the API's msg: ${takenMsg}`);
  await page.getByLabel('Username', { exact: true }).fill('alice');
  await page.getByLabel('Password', { exact: true }).fill('wrong-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  t.match(await page.getByRole('alert').first().textContent(), /./, 'a failed log-in says why');
  await page.getByLabel('New username').fill('alice');
  // Keyboard only: Enter submits the form.
  await page.getByLabel('New password').fill('password1');
  await page.getByLabel('New password').press('Enter');
  await page.waitForURL(`${p.url}/index`);
  t.equal(await page.locator('#username').textContent(), 'alice', "the user's page names the user");

  // The token: copied to the clipboard, it works against the API.
  await page.getByRole('button', { name: 'Copy token' }).click();
  const token = (await page.evaluate('navigator.clipboard.readText()')) as string;
  t.equal(token, await page.getByLabel('API token').inputValue(), 'the copied token is the one shown');
  t.equal((await p.call('GET', '/api/v1/users/alice', { token })).status, 200, 'the copied token works');
  t.match(await page.locator('#login-line').textContent(), `login --url ${p.url} --user alice`);
  await poll(
    () => page.locator('#usage-cpu + .usage-text').textContent(),
    (v) => /of 10/.test(v ?? ''),
    'tenant usage shown',
  );

  // The training script into the home, then a folder of two files as dataset iris.
  await page.getByLabel('Script for your home').setInputFiles(path.join(REPO, 'examples/iris/train.mjs'));
  await page.getByRole('button', { name: 'Upload to home' }).click();
  await page.getByText('stored .home/train.mjs').waitFor();
  const folder = mkdtempSync(path.join(tmpdir(), 'mlp-ui-iris-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  copyFileSync(path.join(REPO, 'examples/iris/data/iris.csv'), path.join(folder, 'iris.csv'));
  writeFileSync(path.join(folder, 'README.txt'), "Fisher's iris data, 150 rows.\n");
  await page.getByLabel('Dataset name').fill('iris');
  await page.getByLabel('or a folder').setInputFiles(folder);
  await page.getByRole('button', { name: 'Create and upload' }).click();
  await page.getByText('dataset iris is ready (2 files)').waitFor();
  await poll(
    () => cell(page, 'datasets', 'iris', 1).textContent(),
    (v) => v === 'ready',
    'dataset iris ready in the table',
  );
  t.equal(await cell(page, 'datasets', 'iris', 2).textContent(), '100%');
  const listing = (await p.call('GET', '/data/alice/iris/', { token })).json as { path: string; size: number }[];
  t.same(listing.map((f) => f.path).sort(), ['README.txt', 'iris.csv'], 'both files stored');

  // Dataset create refused: the API's msg.
  const dupMsg = await msgOf(p, 'POST', '/api/v1/users/alice/datasets', { token, body: { name: 'iris', size: 1 } });
  await page.getByLabel('Dataset name').fill('iris');
  await page.getByLabel('Files').setInputFiles(path.join(folder, 'README.txt'));
  await page.getByRole('button', { name: 'Create and upload' }).click();
  await page.getByRole('alert').filter({ hasText: dupMsg }).waitFor();
  t.pass(`dataset create refused with the API's msg: ${dupMsg}`);
  await page.getByLabel('Files').setInputFiles([]);

  // Job submit refused (no such entry): the API's msg.
  const entryMsg = await msgOf(p, 'POST', '/api/v1/users/alice/jobs', { token, body: { name: 'nope', entry: 'missing.mjs' } });
  await page.getByLabel('Job name').fill('nope');
  await page.getByLabel('Entry script').fill('missing.mjs');
  await page.getByRole('button', { name: 'Submit job' }).click();
  await page.getByRole('alert').filter({ hasText: entryMsg }).waitFor();
  t.pass(`job submit refused with the API's msg: ${entryMsg}`);
  // The runtime is chosen in the form: torch runs Python entries only, and the page says so.
  await page.getByLabel('Runtime').selectOption('torch');
  await page.getByLabel('Entry script').fill('train.mjs');
  await page.getByRole('button', { name: 'Submit job' }).click();
  await page.getByRole('alert').filter({ hasText: 'runtime torch runs .py entries, not .mjs' }).waitFor();
  t.pass('the runtime chosen in the form was sent');
  await page.getByLabel('Runtime').selectOption('tf');

  // The metrics socket goes through a proxy the test can cut once, to see the page reconnect.
  let socket: WebSocketRoute | undefined;
  let sockets = 0;
  await page.routeWebSocket(/\/job_metrics\//, (ws) => {
    sockets += 1;
    socket = ws;
    ws.connectToServer();
  });
  await page.getByLabel('Job name').fill('iris');
  await page.getByLabel('Entry script').fill('train.mjs');
  await page.getByRole('button', { name: 'Submit job' }).click();
  const chart = page.locator('figure.chart');
  await chart.waitFor();
  const seen = new Set<number>();
  const points = async () => Number((await chart.getAttribute('data-points')) ?? 0);
  let cut = false;
  const job = async () => (await p.call('GET', '/api/v1/users/alice/jobs/iris', { token })).json as { state: string };
  await poll(
    async () => {
      const n = await points();
      seen.add(n);
      if (!cut && n >= 5 && socket) {
        cut = true;
        await socket.close();
        await page.locator('#job-detail').scrollIntoViewIfNeeded();
        await page.screenshot({ path: path.join(ARTIFACTS, 'main-live-chart.png'), fullPage: false });
      }
      return { n, state: (await job()).state };
    },
    (v) => v.state === 'finished' || v.state === 'error',
    'job iris ending',
    1200,
  );
  t.equal((await job()).state, 'finished', 'the job trained');
  const history = (await p.call('GET', '/api/v1/users/alice/job_metrics/iris', { token })).json as unknown[];
  await poll(points, (n) => n === history.length, 'every epoch on the chart');
  t.ok([...seen].filter((n) => n > 0 && n < history.length).length >= 3, `the chart grew while the job trained (${[...seen].sort((a, b) => a - b).join(', ')})`);
  t.ok(sockets >= 2 && Number(await chart.getAttribute('data-reconnects')) >= 1, 'the page reconnected after the socket was cut');
  t.equal(await points(), history.length, `no duplicate points after the reconnect (${history.length} epochs)`);
  await page.locator('#job-detail [data-state="ended"]').waitFor();
  t.match(await page.locator('#job-detail pre.log').textContent(), /./, "the followed log shows the job's output");
  await page.screenshot({ path: path.join(ARTIFACTS, 'main-chart.png') });

  // A model from the job, an app from the model, a prediction from the page.
  await poll(
    () => cell(page, 'jobs', 'iris', 1).textContent(),
    (v) => v === 'finished',
    'job finished in the table',
  );
  await page.getByLabel('Model name').fill('iris');
  await poll(
    () => page.getByLabel('From finished job').inputValue(),
    (v) => v === 'iris',
    'the finished job offered',
  );
  await page.getByRole('button', { name: 'Make model' }).click();
  await poll(
    () => cell(page, 'models', 'iris', 1).textContent(),
    (v) => v === 'ready',
    'model ready',
    1200,
  );
  await page.getByLabel('App name').fill('iris');
  await poll(
    () => page.getByLabel('Model', { exact: true }).inputValue(),
    (v) => v === 'iris',
    'the ready model offered',
  );
  await page.getByRole('button', { name: 'Deploy app' }).click();
  await poll(
    () => cell(page, 'apps', 'iris', 1).textContent(),
    (v) => v === 'ready',
    'app ready',
    1200,
  );
  // The endpoint the platform gives the app (its app gateway is on a free port here, not 30002).
  t.equal(await page.locator('#app-endpoint').inputValue(), `${p.appUrl}/alice/iris/v1/models/iris:predict`, "the app's endpoint URL");
  await page.getByRole('button', { name: 'Predict', exact: true }).click();
  await poll(
    () => page.locator('#predict-output').textContent(),
    (v) => /predictions/.test(v ?? ''),
    'a prediction',
  );
  const predicted = JSON.parse((await page.locator('#predict-output').textContent()) ?? '{}') as { predictions: number[][] };
  const first = predicted.predictions[0] ?? [];
  t.equal(first.indexOf(Math.max(...first)), 0, 'the served model calls the first flower a setosa');
  await page.locator('#app-detail').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(ARTIFACTS, 'app.png') });
  await page.getByLabel('Request (TensorFlow Serving: {"instances": …} or a list of rows)').fill('[[1, 2]]');
  await page.getByRole('button', { name: 'Predict', exact: true }).click();
  await page
    .locator('#app-detail [role="alert"]')
    .filter({ hasText: /instance 0/ })
    .waitFor();
  t.pass("a malformed instance shows the model server's msg");

  // Delete everything, each from its row; then log out.
  await page.getByRole('button', { name: 'Delete model iris' }).click();
  await page
    .locator('#toast')
    .filter({ hasText: /used by app iris/ })
    .waitFor();
  t.pass("deleting a model in use shows the API's msg");
  for (const [kind, table] of [
    ['app', 'apps'],
    ['model', 'models'],
    ['job', 'jobs'],
    ['dataset', 'datasets'],
  ] as const) {
    await page.getByRole('button', { name: `Delete ${kind} iris` }).click();
    await poll(
      () => row(page, table, 'iris').count(),
      (n) => n === 0,
      `${kind} iris gone from the page`,
      1200,
    );
  }
  t.equal(await page.locator('#apps tr.empty').isVisible(), true, 'no apps left');
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${p.url}/regist_login`);
  await page.getByText('logged out').waitFor();
  t.equal((await p.call('GET', '/api/v1/users/alice', { token })).status, 403, 'logging out revoked the token');
  t.same(outside, [], 'the page asked nothing of any other origin');
  t.same(
    failed.filter((u) => !/job_metrics|\/log\?follow/.test(u)),
    [],
    'no request failed',
  );
});

t.test('10,000 epochs: drawn in a few frames, the page keeps answering clicks', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'bob', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/bob/token', { basic: ['bob', 'password1'] })).json as string;
  await p.call('PUT', '/data/bob/.home/done.mjs', { token, rawBody: 'console.log("done")', headers: { 'content-type': 'application/octet-stream' } });
  t.equal((await p.call('POST', '/api/v1/users/bob/jobs', { token, body: { name: 'long', entry: 'done.mjs', cpu: 0.1, ram: 100 } })).status, 201);
  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  let half: () => void = () => undefined;
  const halfway = new Promise<void>((r) => (half = r));
  let resume: () => void = () => undefined;
  const resumed = new Promise<void>((r) => (resume = r));
  await page.routeWebSocket(/\/job_metrics\//, async (ws) => {
    const send = (from: number, to: number) => {
      for (let epoch = from; epoch < to; epoch++)
        ws.send(JSON.stringify({ user: 'bob', name: 'long', epoch, accuracy: 1 - 1 / (epoch + 2), loss: 1 / (epoch + 1), progress: Math.floor(epoch / 100) }));
    };
    send(0, 5000);
    half();
    await resumed;
    send(5000, 10000);
    send(9990, 10000); // repeats replace their points
  });
  await page.goto(`${p.url}/regist_login`);
  await page.getByLabel('Username', { exact: true }).fill('bob');
  await page.getByLabel('Password', { exact: true }).fill('password1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${p.url}/index`);
  await page.getByRole('button', { name: 'Show metrics and log of job long' }).click();
  await halfway;
  // A click while thousands of messages are being drawn is handled.
  await page.getByRole('button', { name: 'Copy token' }).click();
  await page.locator('#toast').filter({ hasText: 'token copied' }).waitFor();
  resume();
  const chart = page.locator('figure.chart');
  await poll(
    async () => Number(await chart.getAttribute('data-points')),
    (n) => n === 10000,
    '10,000 points drawn',
  );
  const draws = Number(await chart.getAttribute('data-draws'));
  t.ok(draws < 1000, `10,000 messages drew ${draws} times: once per frame, not once per message`);
  await page.getByRole('link', { name: 'Apps' }).click();
  t.equal(await page.evaluate('location.hash'), '#apps', 'a link still answers after the drawing');
  await page.screenshot({ path: path.join(ARTIFACTS, 'chart-10000.png') });
});

t.test('a folder with real file names (spaces, parentheses, #, %, ?, accents, CJK) uploads from the page; the same bytes read back', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'carol', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/carol/token', { basic: ['carol', 'password1'] })).json as string;
  const folder = mkdtempSync(path.join(tmpdir(), 'mlp-ui-names-'));
  t.teardown(() => rmSync(folder, { recursive: true, force: true }));
  const files: Record<string, Buffer> = {
    'IMG 001 (1).jpg': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x80, 0x25, 0x23]),
    'données.csv': Buffer.from('a,b\n1,2\n'),
    'a#b%c?.txt': Buffer.from('odd name, %41 stays as is'),
    '数据/文件.txt': Buffer.from('中文内容'),
    'sub dir (2)/100%25.txt': Buffer.from('a name that looks encoded'),
  };
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    writeFileSync(path.join(folder, rel), body);
  }
  const browser = await launch(t);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const puts: string[] = [];
  page.on('request', (r) => {
    if (r.method() === 'PUT' && r.url().includes('/data/')) puts.push(new URL(r.url()).pathname);
  });
  await page.goto(`${p.url}/regist_login`);
  await page.getByLabel('Username', { exact: true }).fill('carol');
  await page.getByLabel('Password', { exact: true }).fill('password1');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${p.url}/index`);
  await page.getByLabel('Dataset name').fill('names');
  await page.getByLabel('or a folder').setInputFiles(folder);
  await page.getByRole('button', { name: 'Create and upload' }).click();
  await page.getByText('dataset names is ready (5 files)').waitFor();
  // Each segment percent-encoded once, as the page sent it.
  t.same(
    puts.sort(),
    Object.keys(files)
      .map((rel) => `/data/carol/names/${rel.split('/').map(encodeURIComponent).join('/')}`)
      .sort(),
    'one PUT per file, each name encoded once',
  );
  const listing = (await p.call('GET', '/data/carol/names/', { token })).json as { path: string; size: number }[];
  t.same(
    listing.map((f) => [f.path, f.size]).sort(),
    Object.entries(files)
      .map(([rel, body]) => [rel, body.length])
      .sort(),
    'stored under the names as they are',
  );
  for (const [rel, body] of Object.entries(files)) {
    const r = await fetch(`${p.url}/data/carol/names/${rel.split('/').map(encodeURIComponent).join('/')}`, { headers: { authorization: `Bearer ${token}` } });
    t.equal(r.status, 200, `GET ${rel}`);
    t.same(Buffer.from(await r.arrayBuffer()), body, `${rel}: the same bytes back`);
  }
});
