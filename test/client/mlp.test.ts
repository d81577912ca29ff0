import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { cliSession } from '../helpers/cli.js';
import { ckptOf, closeTo, endedJob, modelSettled, predictLocally, ROWS, SERVER_CPU, SERVER_RAM, tinyModel, userOn } from '../helpers/models.js';
import { freePort } from '../helpers/process.js';

// docs/api.md#data-client: the `mlp` client against a running platform, as a user would run it.

t.test('mlp: login, dataset upload (and resume), ls, download, home put, rm', async (t) => {
  const { work, p, env, mlp } = await cliSession(t, { MLP_TENANT_ROM: String(64 * 1024 * 1024) });

  const notYet = await mlp('dataset', 'ls');
  t.equal(notYet.code, 1);
  t.match(notYet.out, /mlp: not logged in/);
  const wrong = await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'nope-nope');
  t.equal(wrong.code, 1);
  t.match(wrong.out, /mlp: wrong username or password/);
  t.equal((await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1')).code, 0);
  t.equal((statSync(env.MLP_CLIENT_CONFIG).mode & 0o777).toString(8), '600', 'the token is kept readable by its owner only');

  const src = path.join(work, 'src');
  mkdirSync(path.join(src, 'train'), { recursive: true });
  const blob = Buffer.alloc(1536 * 1024);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 31) % 251;
  writeFileSync(path.join(src, 'train', 'images.bin'), blob);
  writeFileSync(path.join(src, 'labels.csv'), 'a,b\n1,2\n');
  const up = await mlp('dataset', 'upload', src, '--name', 'mnist', '--quiet');
  t.equal(up.code, 0, up.out);
  t.match(up.out, /dataset mnist is ready: 2 files uploaded/);
  t.match((await p.call('GET', '/api/v1/users/alice/datasets/mnist', { token: JSON.parse(readFileSync(env.MLP_CLIENT_CONFIG, 'utf8')).token })).json, {
    state: 'ready',
    progress: 100,
    size: blob.length + 8,
  });

  // Resume: a dataset still creating with one file already stored whole.
  const token = (JSON.parse(readFileSync(env.MLP_CLIENT_CONFIG, 'utf8')) as { token: string }).token;
  await p.call('POST', '/api/v1/users/alice/datasets', { token, body: { name: 'resumed', size: blob.length + 8 } });
  await fetch(`${p.url}/data/alice/resumed/labels.csv`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: 'a,b\n1,2\n' });
  const resumed = await mlp('dataset', 'upload', src, '--name', 'resumed', '--quiet');
  t.equal(resumed.code, 0, resumed.out);
  t.match(resumed.out, /resuming upload of resumed/);
  t.match(resumed.out, /1 files uploaded, 1 already stored/);

  const ls = await mlp('dataset', 'ls');
  t.match(ls.out, /mnist\s+ready\s+100%/);
  t.match(ls.out, /resumed\s+ready\s+100%/);

  const out = path.join(work, 'out');
  const down = await mlp('dataset', 'download', 'mnist', out, '--quiet');
  t.equal(down.code, 0, down.out);
  t.ok(readFileSync(path.join(out, 'train', 'images.bin')).equals(blob), 'downloaded bytes are the uploaded ones');
  t.match((await mlp('dataset', 'download', 'mnist', out, '--quiet')).out, /downloaded 0 of 2 files/, 'files already there whole are skipped');

  writeFileSync(path.join(work, 'train.mjs'), 'console.log("hi")\n');
  t.match((await mlp('home', 'put', path.join(work, 'train.mjs'), '--as', 'jobs/train.mjs')).out, /stored \.home\/jobs\/train\.mjs/);
  const home = await fetch(`${p.url}/data/alice/.home/jobs/train.mjs`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(await home.text(), 'console.log("hi")\n');

  const bad = await mlp('dataset', 'upload', src, '--name', 'Bad', '--quiet');
  t.equal(bad.code, 1);
  t.match(bad.out, /mlp: name "Bad" must match/);
  const again = await mlp('dataset', 'upload', src, '--name', 'mnist', '--quiet');
  t.equal(again.code, 1);
  t.match(again.out, /mnist is ready; only a dataset still creating can be resumed/);
  t.match((await mlp('dataset', 'rm', 'mnist')).out, /dataset mnist is deleting/);
});

t.test('mlp dataset upload and download with real file names: spaces, parentheses, #, %, ?, accents, CJK', async (t) => {
  const { work, p, mlp } = await cliSession(t, { MLP_TENANT_ROM: String(64 * 1024 * 1024) });
  t.equal((await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1')).code, 0);
  const src = path.join(work, 'names');
  const files: Record<string, string> = {
    'IMG 001 (1).jpg': 'jpeg bytes',
    'données.csv': 'a,b\n1,2\n',
    'a#b%c?d.txt': 'odd name',
    '数据/文件 1.bin': 'cjk',
    'sub dir (2)/100%.txt': 'percent',
  };
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    writeFileSync(path.join(src, rel), body);
  }
  const up = await mlp('dataset', 'upload', src, '--name', 'names', '--quiet');
  t.equal(up.code, 0, up.out);
  t.match(up.out, /dataset names is ready: 5 files uploaded/);
  const out = path.join(work, 'names-out');
  const down = await mlp('dataset', 'download', 'names', out, '--quiet');
  t.equal(down.code, 0, down.out);
  for (const [rel, body] of Object.entries(files)) t.equal(readFileSync(path.join(out, rel), 'utf8'), body, `${rel}: the same bytes back`);

  const bad = path.join(work, 'bad');
  mkdirSync(bad);
  writeFileSync(path.join(bad, 'tab\there.txt'), 'x');
  const refused = await mlp('dataset', 'upload', bad, '--name', 'bad', '--quiet');
  t.equal(refused.code, 1);
  t.match(refused.out, /cannot upload tab\there\.txt: the name .* holds a NUL or control character/, 'refused before anything is created');
  t.match((await mlp('dataset', 'ls')).out, /^(?![\s\S]*\bbad\b)/, 'no dataset bad was created');
});

t.test('mlp job: submit, ls, logs, stop, rm', async (t) => {
  const { work, p, mlp } = await cliSession(t);
  await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1');
  writeFileSync(path.join(work, 'hello.mjs'), 'console.log("hello from the job")\n');
  writeFileSync(path.join(work, 'wait.mjs'), 'setInterval(() => {}, 1000)\n');
  await mlp('home', 'put', path.join(work, 'hello.mjs'));
  await mlp('home', 'put', path.join(work, 'wait.mjs'));

  const submitted = await mlp('job', 'submit', 'hello', '--entry', 'hello.mjs', '--cpu', '0.5');
  t.equal(submitted.code, 0, submitted.out);
  t.match(submitted.out, /hello\s+(creating|running)/);
  let ls = '';
  for (let i = 0; i < 100 && !/hello\s+finished/.test(ls); i++) {
    await new Promise((r) => setTimeout(r, 200));
    ls = (await mlp('job', 'ls')).out;
  }
  t.match(ls, /hello\s+finished\s+100%\s+cpu 0\.5/);
  t.match((await mlp('job', 'logs', 'hello')).out, 'hello from the job');
  t.match((await mlp('job', 'rm', 'hello')).out, /job hello is deleting/);

  await mlp('job', 'submit', 'waiter', '--entry', 'wait.mjs');
  t.match((await mlp('job', 'stop', 'waiter')).out, /waiter\s+error .*stopped by user/);
  const bad = await mlp('job', 'submit', 'nope', '--entry', 'missing.mjs');
  t.equal(bad.code, 1);
  t.match(bad.out, /mlp: entry missing\.mjs not found in your home/);
  const nan = await mlp('job', 'submit', 'nope', '--entry', 'wait.mjs', '--cpu', 'lots');
  t.not(nan.code, 0);
  t.match(nan.out, /--cpu must be a number, not lots/);

  // A training script that publishes a metric per epoch with its job token.
  writeFileSync(
    path.join(work, 'epochs.mjs'),
    `
    const url = process.env.MLP_API + '/api/v1/users/' + process.env.MLP_USER + '/job_metrics/' + process.env.MLP_JOB;
    for (let epoch = 0; epoch < 3; epoch++) {
      await new Promise((r) => setTimeout(r, 300));
      const progress = epoch === 2 ? 100 : (epoch + 1) * 30;
      await fetch(url, { method: 'POST', headers: { authorization: 'Bearer ' + process.env.MLP_TOKEN, 'content-type': 'application/json' },
        body: JSON.stringify({ epoch, accuracy: 0.5 + epoch / 10, loss: 1 - epoch / 10, progress }) });
      console.log('epoch', epoch);
    }
  `,
  );
  await mlp('home', 'put', path.join(work, 'epochs.mjs'));
  t.equal((await mlp('job', 'submit', 'epochs', '--entry', 'epochs.mjs', '--cpu', '0.5')).code, 0);
  const [followed, logs] = await Promise.all([mlp('job', 'metrics', 'epochs', '--follow'), mlp('job', 'logs', 'epochs', '--follow')]);
  t.equal(followed.code, 0, followed.out);
  t.match(followed.out, /epoch\s+0\s+accuracy 0\.5000\s+loss 1\.0000\s+progress 30%/);
  t.match(followed.out, /epoch\s+2\s+accuracy 0\.7000.*progress 100%/, 'followed until the last epoch');
  t.equal(logs.code, 0, logs.out);
  t.match(logs.out, /epoch 0\nepoch 1\nepoch 2\n/, 'logs --follow streamed until the job ended');
  t.match((await mlp('job', 'metrics', 'epochs')).out, /epoch\s+1\s+accuracy 0\.6000/);
});

// The app gateway on a port of its own choosing (not 30002): the client learns where an app is
// from its endpoint, without being told the app gateway's address.
t.test('mlp app: create, ls, predict and rm with the app gateway on a non-default port', async (t) => {
  const appPort = await freePort();
  const { work, p, mlp } = await cliSession(t, { MLP_APP_PORT: String(appPort) });
  t.not(appPort, 30002);
  t.equal(p.appUrl, `http://127.0.0.1:${appPort}`);
  const token = await userOn(p, 'alice'); // alice is registered already: her token and a script that ends at once
  await endedJob(p, token, 'alice', 'train');
  const model = await tinyModel(ckptOf(p, 'alice', 'train'));
  t.equal((await p.call('POST', '/api/v1/users/alice/models', { token, body: { name: 'iris', src: 'train' } })).status, 201);
  t.match(await modelSettled(p, token, 'alice', 'iris'), { state: 'ready' });

  t.equal((await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1')).code, 0, 'logged in without --app-url');
  const created = await mlp('app', 'create', 'serve', '--model', 'iris', '--cpu', String(SERVER_CPU), '--ram', String(SERVER_RAM));
  t.equal(created.code, 0, created.out);
  t.match(created.out, /serve\s+ready\s+model iris/);
  t.match(created.out, `predict: POST http://127.0.0.1:${appPort}/alice/serve/v1/models/iris:predict`, 'the endpoint the platform gave');
  t.match((await mlp('app', 'ls')).out, `http://127.0.0.1:${appPort}/alice/serve/v1/models/iris:predict`);

  const file = path.join(work, 'rows.json');
  writeFileSync(file, JSON.stringify(ROWS));
  const predicted = await mlp('app', 'predict', 'serve', file);
  t.equal(predicted.code, 0, predicted.out);
  t.notMatch(predicted.out, /30002/);
  t.ok(closeTo((JSON.parse(predicted.out) as { predictions: number[][] }).predictions, predictLocally(model, ROWS)), "the model's own predictions, through the app gateway");

  // An app gateway named at login replaces the endpoint's (here one where nothing listens).
  const closed = `http://127.0.0.1:${await freePort()}`;
  t.equal((await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1', '--app-url', `${closed}/`)).code, 0);
  const unreachable = await mlp('app', 'predict', 'serve', file);
  t.equal(unreachable.code, 1);
  t.match(unreachable.out, `mlp: cannot reach app serve at ${closed}/alice/serve`);
  t.match((await mlp('app', 'rm', 'serve')).out, /app serve is deleting/);
});
