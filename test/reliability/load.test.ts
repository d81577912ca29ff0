import { readdirSync, rmSync, statSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import { sleep } from '../helpers/chaos.js';
import { call, type Answer, type CallOptions } from '../helpers/platform.js';
import { startPlatformProcess, type PlatformProcess } from '../helpers/platform-process.js';
import { until as poll } from '../helpers/poll.js';
import { freePort } from '../helpers/process.js';

// Load: 200 users at once each register, get a token, create a dataset and upload it
// (WebDAV PUT), run a short job that reads it, and delete everything: 0 errors, the tenant back
// to zero, and nothing of theirs left under MLP_ROOT. The only answers retried are those that say
// to try again: the per-address bound on token requests (functions/users-token/attempts.ts: 60 at once, then
// 2 a second from one address; no setting changes it) answers 403 "… try again in N s", which 200
// users behind one address (this test) must wait out as clients behind one NAT would; and the
// bounded queue of password checks (auth/password.ts) answers "try again in a few seconds".
// Nothing is weakened for the test.

const USERS = 200;
const DATA = Buffer.from('sepal,petal\n5.1,1.4\n6.7,5.2\n'.repeat(40));
const JOB = `
  import { readFileSync } from 'node:fs';
  import path from 'node:path';
  const bytes = readFileSync(path.join(process.env.MLP_DATASETS, 'iris', 'iris.csv'));
  console.log('read', bytes.length, 'bytes');
`;

const letters = (n: number): string => String.fromCharCode(97 + (n % 26)) + (n >= 26 ? letters(Math.floor(n / 26) - 1) : '');

t.test(`${USERS} concurrent users: register, upload, run, delete`, async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-load-'));
  const env = { MLP_ROOT: root, MLP_PORT: String(await freePort()), MLP_APP_PORT: String(await freePort()), MLP_TENANT_CPU: '10', MLP_TENANT_RAM: '10000', MLP_LOG_LEVEL: 'warn' };
  const p: PlatformProcess = await startPlatformProcess(t, env);
  t.teardown(async () => {
    await p.kill('SIGKILL');
    endRecorded(path.join(root, 'orchestrator'));
    rmSync(root, { recursive: true, force: true });
  });
  const errors: string[] = [];
  const waitedOut: Record<string, number> = {};
  /**
   * One call; an answer other than `ok` is an error (recorded, and the user's walk ends) — but for
   * an answer that says to try again (403 from the token bound per address: "try again in N s";
   * 503 from the bounded queue of password checks: "try again in a few seconds"), retried as it says.
   */
  const expect = async (user: string, what: string, ok: number[], method: string, urlPath: string, opts: CallOptions = {}): Promise<Answer> => {
    for (let attempt = 0; ; attempt++) {
      let a: Answer;
      try {
        a = await call(p.url, method, urlPath, opts);
      } catch (err) {
        errors.push(`${user} ${what}: no answer: ${(err as Error).message}`);
        throw err;
      }
      const again = attempt < 100 ? (a.status === 403 ? /try again in (\d+ s)/ : a.status === 503 ? /try again in (a few seconds)/ : null)?.exec(a.text) : null;
      if (again) {
        waitedOut[what] = (waitedOut[what] ?? 0) + 1;
        await sleep(again[1]?.endsWith(' s') ? Number.parseInt(again[1], 10) * 1000 : 1000 + Math.random() * 2000);
        continue;
      }
      if (!ok.includes(a.status)) {
        errors.push(`${user} ${what}: ${a.status} ${a.text.slice(0, 200)}`);
        throw new Error(errors[errors.length - 1]);
      }
      return a;
    }
  };
  const until = <T>(what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> => poll(read, done, what, { tries: 2400, ms: 250 });

  const walk = async (i: number) => {
    const user = `u${letters(i)}`;
    const users = `/api/v1/users/${user}`;
    await expect(user, 'register', [201], 'POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
    const token = (await expect(user, 'token', [200], 'GET', `${users}/token`, { basic: [user, 'password1'] })).json as string;
    await expect(user, 'create dataset', [201], 'POST', `${users}/datasets`, { token, body: { name: 'iris', size: DATA.length } });
    await expect(user, 'upload', [201], 'PUT', `/data/${user}/iris/iris.csv`, { token, rawBody: DATA.toString('utf8'), headers: { 'content-type': 'text/csv' } });
    await expect(user, 'mark ready', [200], 'PUT', `${users}/datasets/iris:heartbeat`, { token, body: { state: 'ready', progress: 100 } });
    await expect(user, 'put script', [201], 'PUT', `/data/${user}/.home/read.mjs`, { token, rawBody: JOB, headers: { 'content-type': 'text/javascript' } });
    await expect(user, 'submit job', [201], 'POST', `${users}/jobs`, { token, body: { name: 'read', entry: 'read.mjs', cpu: 0.1, ram: 100 } });
    const job = await until(
      `${user}'s job ends`,
      async () => (await expect(user, 'get job', [200], 'GET', `${users}/jobs/read`, { token })).json as { state: string; msg?: string },
      (j) => j.state === 'finished' || j.state === 'error',
    );
    if (job.state !== 'finished') errors.push(`${user} job: ${job.state} ${job.msg ?? ''}`);
    const log = await expect(user, 'job log', [200], 'GET', `${users}/jobs/read/log`, { token });
    if (!log.text.includes(`read ${DATA.length} bytes`)) errors.push(`${user} job log: ${log.text.slice(0, 200)}`);
    await expect(user, 'delete job', [200], 'DELETE', `${users}/jobs/read`, { token });
    await expect(user, 'delete dataset', [200], 'DELETE', `${users}/datasets/iris`, { token });
    await expect(user, 'delete script', [204], 'DELETE', `/data/${user}/.home/read.mjs`, { token });
    await until(
      `${user}'s job and dataset gone`,
      async () => (await call(p.url, 'GET', `${users}/jobs/read`, { token })).status === 403 && (await call(p.url, 'GET', `${users}/datasets/iris`, { token })).status === 403,
      Boolean,
    );
  };
  const walks = await Promise.allSettled(Array.from({ length: USERS }, (_, i) => walk(i)));
  t.comment(`answers that said to try again, retried as they said: ${JSON.stringify(waitedOut)}`);
  t.same(errors, [], '0 errors');
  t.equal(walks.filter((w) => w.status === 'fulfilled').length, USERS, 'every user walked through');

  const any = (await call(p.url, 'GET', '/api/v1/users/ua/token', { basic: ['ua', 'password1'] })).json as string;
  const tenant = (await call(p.url, 'GET', '/api/v1/tenants/default', { token: any })).json as Record<string, number>;
  t.match(tenant, { cpu_inuse: 0, gpu_inuse: 0, ram_inuse: 0, rom_inuse: 0 }, 'the tenant is back to zero');
  const left: string[] = [];
  for (const dir of ['datasets', 'jobs', 'models', 'apps']) left.push(...filesUnder(path.join(root, dir)));
  t.same(left, [], 'no file of theirs is left under MLP_ROOT');
});

/** Regular files below `dir` (folders alone are no leftover data). */
function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}
