import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { call } from '../helpers/platform.js';
import { until as poll } from '../helpers/poll.js';
import { freePort, spawnTs } from '../helpers/process.js';

// Once, files under MLP_ROOT were created mode 0644: the store with password hashes, the logs,
// the secrets, datasets, homes, job workspaces and models must be for the platform's user alone.
// `npm start` (scripts/local/main.ts) runs here as its own process, as an operator would run it.
// Seen failing on 57e3bf8 before the fix: store.jsonl, the logs, datasets, jobs and models were
// 0644 files in 0755 folders.

const MAIN = path.resolve(import.meta.dirname, '../../scripts/local/main.ts');

/** Every file and folder under `dir` (links included, not followed) whose mode lets group or others in. */
function opened(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel))) {
    const r = path.join(rel, name);
    const s = lstatSync(path.join(dir, r));
    if (s.isSymbolicLink()) continue; // a link's own mode means nothing
    if ((s.mode & 0o077) !== 0) out.push(`${r} ${(s.mode & 0o777).toString(8)}`);
    if (s.isDirectory()) out.push(...opened(dir, r));
  }
  return out;
}

// MLP_JOB_SANDBOX=off: what is tested here is the platform's side, whatever confines the job.
t.test('what the platform writes under MLP_ROOT is readable by its own user only', async (t) => {
  const parent = mkdtempSync(path.join(tmpdir(), 'mlp-modes-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const root = path.join(parent, 'mlp'); // made by the platform
  const env = { MLP_ROOT: root, MLP_PORT: String(await freePort()), MLP_APP_PORT: String(await freePort()), MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '4000', MLP_JOB_SANDBOX: 'off' };
  const platform = spawnTs(t, MAIN, env);
  await platform.waitFor(/MLP is running/, 60000);
  const url = `http://127.0.0.1:${env.MLP_PORT}`;
  t.equal((await call(url, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201);
  const token = (await call(url, 'GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const service = readFileSync(path.join(root, 'secrets', 'service-token'), 'utf8').trim();
  const put = async (urlPath: string, body: string) => (await fetch(url + urlPath, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body })).status;

  // A dataset, a home script, a job that writes a checkpoint, a model made of it.
  t.equal((await call(url, 'POST', '/api/v1/users/alice/datasets', { token, body: { name: 'data', size: 100 } })).status, 201);
  t.equal(await put('/data/alice/data/part/rows.csv', 'a,b\n1,2\n'), 201);
  t.equal((await call(url, 'PUT', '/api/v1/users/alice/datasets/data:heartbeat', { token, body: { state: 'ready', progress: 100 } })).status, 200);
  t.equal(await put('/data/alice/.home/train.mjs', "import { writeFileSync } from 'node:fs'; writeFileSync('ckpt/model.json', '{}'); console.log('done');"), 201);
  t.equal((await call(url, 'POST', '/api/v1/users/alice/jobs', { token, body: { name: 'train', entry: 'train.mjs', cpu: 0.5 } })).status, 201);
  const until = (kind: string, name: string, states: string[]) =>
    poll(
      async () => (await call(url, 'GET', `/api/v1/users/alice/${kind}/${name}`, { token })).json as { state: string },
      (got) => states.includes(got.state),
      `${kind} ${name} reaching ${states.join('/')}`,
      { tries: 400, before: () => call(url, 'POST', `/api/v1/reconcile/${kind}`, { token: service }) },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; platform output:\n${platform.output()}`);
    });
  const job = await until('jobs', 'train', ['finished', 'error']);
  t.match(job, { state: 'finished' }, `the job finished (${JSON.stringify(job)})`);
  t.equal((await call(url, 'POST', '/api/v1/users/alice/models', { token, body: { name: 'model', src: 'train' } })).status, 201);
  t.match(await until('models', 'model', ['ready', 'error']), { state: 'ready' });
  platform.child.kill('SIGTERM');
  t.equal((await platform.exited).code, 0);

  for (const part of ['store', 'secrets', 'log', 'datasets', 'jobs', 'models']) t.ok(readdirSync(root).includes(part), `${part} exists under MLP_ROOT`);
  t.same(opened(root), [], 'no file or folder under MLP_ROOT is open to group or others');
  t.equal(lstatSync(root).mode & 0o777, 0o700, 'nor is MLP_ROOT itself, when the platform made it');
});
