import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { loadConfig } from '../../shared/config/load.js';
import { createLogger, fileSink } from '../../shared/core/log.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { startPlatform } from '../../scripts/local/platform.js';
import { homeScript } from '../helpers/jobs.js';
import { ckptOf, modelSettled, ROWS, SERVER_RAM, tinyModel } from '../helpers/models.js';
import { until } from '../helpers/poll.js';
import * as tf from '@tensorflow/tfjs';
import { call, type CallOptions, type Reachable } from '../helpers/platform.js';
import { startNginx, type GatewayWithApps } from '../gateway/nginx.js';
import { rawRequest } from './helpers.js';

// Secrets in logs: a representative session — register, a wrong password, tokens,
// /api/v1/auth (header and ?token=), a dataset uploaded by WebDAV with Basic (username and token),
// listed, made ready, read; a job whose script sends heartbeats and a metric with its job token;
// a model of it, an app serving it and a prediction with the owner's token; the metrics WebSocket
// with ?token= and with the header; refusals (foreign token, revoked token); logout — through the
// Nginx test gateway (scripts/infra/nginx.mjs, API and app gateway) and directly. Then no line
// under MLP_ROOT/log/ (the platform's file logs, at debug level, the strictest), in any other
// *.log under MLP_ROOT (the app's server.log, the job's job.log), nor in Nginx's access and error
// logs holds a token, a password, Basic credentials, the signing secret, the service token, a JWT
// or a `?token=` parameter.

tf.enableProdMode(); // no "install tfjs-node" banner in the test output

const ALICE_PW = 'alice-Secret-pw-4711';
const BOB_PW = 'bob-Secret-pw-0815';
const WRONG_PW = 'not-Her-pw-2024-xyz';

// The script's job token goes to ckpt/t, so the test knows what to look for; it publishes one
// metric, says running, then finished.
const SCRIPT = `
import { writeFileSync, mkdirSync } from 'node:fs';
mkdirSync('ckpt', { recursive: true });
writeFileSync('ckpt/t', process.env.MLP_TOKEN);
const base = process.env.MLP_API + '/api/v1/users/' + process.env.MLP_USER;
const headers = { authorization: 'Bearer ' + process.env.MLP_TOKEN, 'content-type': 'application/json' };
const post = (method, url, body) => fetch(base + url, { method, headers, body: JSON.stringify(body) }).then((r) => r.text());
await post('PUT', '/jobs/' + process.env.MLP_JOB + ':heartbeat', { state: 'running', progress: 10 });
await post('POST', '/job_metrics/' + process.env.MLP_JOB, { epoch: 0, accuracy: 0.5, loss: 1.2, progress: 50 });
await post('PUT', '/jobs/' + process.env.MLP_JOB + ':heartbeat', { state: 'finished', progress: 100 });
`;

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

/** Nginx's prefix folder (its -p argument), where the test gateway keeps access.log and error.log. */
function nginxDir(pid: number): string | undefined {
  try {
    // The master rewrites its title ("nginx: master process nginx -p DIR/ -c …"), one string.
    return /(?:^|[\s\0])-p[\s\0]+([^\s\0]+)/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function wsHistory(url: string, headers: Record<string, string> = {}): Promise<{ status: number; messages: string[] }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    const messages: string[] = [];
    ws.on('message', (m: Buffer) => {
      messages.push(m.toString());
      ws.close();
    });
    ws.on('close', () => resolve({ status: 101, messages }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0, messages }));
    ws.on('error', () => resolve({ status: -1, messages }));
    setTimeout(() => ws.terminate(), 3000).unref();
  });
}

t.test("no token, password or secret reaches the platform's or Nginx's logs", async (t) => {
  const started = Date.now();
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-secrets-'));
  const files = fileSink(root);
  const config = loadConfig({ MLP_PORT: '0', MLP_APP_PORT: '0', MLP_ROOT: root, MLP_JOB_SANDBOX: 'off', MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '4000', MLP_LOG_LEVEL: 'debug' });
  const p = await startPlatform(config, createLogger({ component: 'platform', level: 'debug', sinks: [files] }));
  let gw: GatewayWithApps | undefined;
  t.teardown(async () => {
    await gw?.stop();
    await p.close();
    await files.close();
    rmSync(root, { recursive: true, force: true });
  });
  try {
    gw = await startNginx({ upstream: p.url.replace(/^http:\/\//, ''), appGateway: true });
  } catch (err) {
    t.comment(`no Nginx gateway (${(err as Error).message.split('\n')[0]}): the session runs on the platform alone`);
  }
  const base = gw?.url ?? p.url;
  const api = (method: string, urlPath: string, opts?: CallOptions) => call(base, method, urlPath, opts);
  const secrets: Record<string, string> = {
    'signing secret': readFileSync(path.join(root, 'secrets', 'secret'), 'utf8').trim(),
    'service token': p.deps.serviceToken,
    "alice's password": ALICE_PW,
    "bob's password": BOB_PW,
    'a wrong password': WRONG_PW,
  };

  // Users, tokens, a refused login.
  t.equal((await api('POST', '/api/v1/users', { body: { username: 'alice', password: ALICE_PW } })).status, 201);
  t.equal((await api('POST', '/api/v1/users', { body: { username: 'bob', password: BOB_PW } })).status, 201);
  t.equal((await api('GET', '/api/v1/users/alice/token', { basic: ['alice', WRONG_PW] })).status, 403, 'a wrong password is refused');
  const alice = (await api('GET', '/api/v1/users/alice/token', { basic: ['alice', ALICE_PW] })).json as string;
  const bob = (await api('GET', '/api/v1/users/bob/token', { basic: ['bob', BOB_PW] })).json as string;
  const later = (await api('GET', '/api/v1/users/alice/token', { basic: ['alice', ALICE_PW] })).json as string;
  Object.assign(secrets, { "alice's token": alice, "bob's token": bob, "alice's second token": later });
  secrets['Basic alice:password'] = Buffer.from(`alice:${ALICE_PW}`).toString('base64');
  secrets['Basic alice:token'] = Buffer.from(`alice:${alice}`).toString('base64');
  t.equal((await api('GET', '/api/v1/auth', { token: alice })).json, 'alice', '/api/v1/auth with the header');
  t.equal((await api('GET', `/api/v1/auth?token=${encodeURIComponent(alice)}`)).json, 'alice', '/api/v1/auth with ?token=');

  // A dataset uploaded by WebDAV with Basic (username, token), listed, made ready, read back.
  t.equal((await api('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'data', size: 100 } })).status, 201);
  const put = await rawRequest(base, 'PUT', '/data/alice/data/a/f.txt', { authorization: `Basic ${secrets['Basic alice:token']}` }, 'hello world');
  t.equal(put.status, 201, 'WebDAV PUT with Basic and a token');
  t.equal((await rawRequest(base, 'PROPFIND', '/data/alice/data/', { authorization: `Basic ${secrets['Basic alice:token']}`, depth: '1' })).status, 207, 'PROPFIND');
  t.equal(
    (await rawRequest(base, 'PUT', '/data/alice/data/g.txt', { authorization: `Basic ${Buffer.from(`alice:${bob}`).toString('base64')}` }, 'x')).status,
    403,
    "Basic with bob's token on alice's data is refused",
  );
  t.equal((await api('PUT', '/api/v1/users/alice/datasets/data:heartbeat', { token: alice, body: { state: 'ready', progress: 100 } })).status, 200);
  t.equal((await api('GET', '/data/alice/data/a/f.txt', { token: alice })).text, 'hello world', 'download');
  t.equal((await api('GET', '/api/v1/users/alice/datasets/data', { token: bob })).status, 403, "bob's token on alice's dataset is refused");

  // A job that uses its job token (heartbeats, a metric).
  homeScript(p.deps, 'alice', 'train.mjs', SCRIPT);
  t.equal((await api('POST', '/api/v1/users/alice/jobs', { token: alice, body: { name: 'train', entry: 'train.mjs', cpu: 0.5, ram: 200 } })).status, 201);
  await until(
    async () => (await call(p.url, 'GET', '/api/v1/users/alice/jobs/train', { token: alice })).json as { state: string },
    (j) => j.state === 'finished' || j.state === 'error',
    'job train ending',
    { before: () => call(p.url, 'POST', '/api/v1/reconcile/jobs', { token: p.deps.serviceToken }) },
  );
  t.match((await api('GET', '/api/v1/users/alice/jobs/train', { token: alice })).json, { state: 'finished' });
  secrets['job token'] = readFileSync(path.join(storagePaths(root).job('alice', 'train'), 'ckpt', 't'), 'utf8');
  t.ok(secrets['job token'] && secrets['job token'].length > 20, 'the job got a token');
  t.equal((await api('GET', '/api/v1/users/alice/jobs/train/log', { token: alice })).status, 200, 'job log');

  // A model of the job, an app serving it, a prediction with the owner's token (app gateway, and
  // Nginx's app gateway).
  rmSync(path.join(storagePaths(root).job('alice', 'train'), 'ckpt', 't'));
  // The helpers take a reachable platform: this one, with its file logs.
  const tp: Reachable = { root, serviceToken: p.deps.serviceToken, call: (m, u, o) => call(p.url, m, u, o) };
  await tinyModel(ckptOf(tp, 'alice', 'train'));
  t.equal((await api('POST', '/api/v1/users/alice/models', { token: alice, body: { name: 'iris', src: 'train' } })).status, 201);
  t.match(await modelSettled(tp, alice, 'alice', 'iris'), { state: 'ready' });
  t.equal((await api('POST', '/api/v1/users/alice/apps', { token: alice, body: { name: 'serve', model_name: 'iris', cpu: 0.5, ram: SERVER_RAM } })).status, 201);
  await until(
    async () => (await call(p.url, 'GET', '/api/v1/users/alice/apps/serve', { token: alice })).json as { state: string },
    (a) => a.state === 'ready' || a.state === 'error',
    'app serve ready',
    { tries: 1200, ms: 100 },
  );
  for (const where of new Set([gw?.appUrl ?? p.appUrl, p.appUrl])) {
    const predicted = await call(where, 'POST', '/alice/serve/v1/models/iris:predict', { token: alice, body: { instances: ROWS } });
    t.equal(predicted.status, 200, `a prediction with the token (${where === p.appUrl ? 'direct' : 'Nginx'}): ${predicted.text.slice(0, 100)}`);
  }
  t.equal((await call(p.appUrl, 'POST', '/alice/serve/v1/models/iris:predict', { token: bob, body: { instances: ROWS } })).status, 403, "bob's token on alice's app is refused");

  // The metrics WebSocket: ?token= (as browsers do) through the gateway and directly, and the header.
  const wsPath = '/api/v1/users/alice/job_metrics/train';
  for (const where of new Set([base, p.url])) {
    const viaQuery = await wsHistory(`${where.replace('http', 'ws')}${wsPath}?token=${encodeURIComponent(alice)}`);
    t.equal(viaQuery.messages.length, 1, `metrics history over ?token= (${where === p.url ? 'direct' : 'Nginx'})`);
  }
  t.equal((await wsHistory(`${p.url.replace('http', 'ws')}${wsPath}`, { authorization: `Bearer ${alice}` })).messages.length, 1, 'and with the header');
  t.equal((await wsHistory(`${base.replace('http', 'ws')}${wsPath}?token=${encodeURIComponent(bob)}`)).status, 403, "bob's ?token= is refused");

  // Logout; the revoked token is refused afterwards, on the API and on the WebSocket.
  t.equal((await api('DELETE', '/api/v1/users/alice/token', { token: later })).status, 200, 'logout');
  t.equal((await api('GET', '/api/v1/users/alice', { token: later })).status, 403, 'the revoked token is refused');
  t.equal((await wsHistory(`${base.replace('http', 'ws')}${wsPath}?token=${encodeURIComponent(later)}`)).status, 403, 'and on the WebSocket');

  // The logs.
  await new Promise((r) => setTimeout(r, 200)); // the file streams flush
  // MLP_ROOT/log/, and every other *.log the platform keeps (an app's server.log, the job's job.log,
  // whose script prints nothing).
  const logFiles = [...new Set([...filesUnder(path.join(root, 'log')), ...filesUnder(root).filter((f) => f.endsWith('.log'))])];
  const logs: [string, string][] = logFiles.map((f) => [path.relative(root, f), readFileSync(f, 'utf8')]);
  t.ok(
    logs.some(([name]) => name.endsWith('server.log')),
    "the app's server.log is among them",
  );
  const dir = gw ? nginxDir(gw.pid) : undefined;
  if (dir) for (const name of ['access.log', 'error.log']) if (existsSync(path.join(dir, name))) logs.push([`nginx/${name}`, readFileSync(path.join(dir, name), 'utf8')]);
  if (gw)
    t.ok(
      logs.some(([name, text]) => name === 'nginx/access.log' && text.includes('/data/alice/data/a/f.txt')),
      "Nginx's access log was read",
    );
  t.ok(
    logs.some(([name]) => name.startsWith('log/')),
    `the platform wrote file logs (${logs.map(([n]) => n).join(', ')})`,
  );
  const lines = logs.flatMap(([name, text]) => text.split('\n').map((line, i) => ({ where: `${name}:${i + 1}`, line })));
  t.ok(lines.length > 50, `${lines.length} log lines checked`);

  const leaks: string[] = [];
  for (const { where, line } of lines) {
    for (const [what, value] of Object.entries(secrets)) if (value && line.includes(value)) leaks.push(`${where} holds ${what}: ${line.slice(0, 300)}`);
    if (/[?&]token=/i.test(line)) leaks.push(`${where} holds a ?token= parameter: ${line.slice(0, 300)}`);
    if (/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/.test(line)) leaks.push(`${where} holds a JWT: ${line.slice(0, 300)}`);
    if (/(Bearer|Basic) [A-Za-z0-9+/_=.-]{16,}/.test(line)) leaks.push(`${where} holds credentials: ${line.slice(0, 300)}`);
  }
  t.same(leaks, [], 'no log line holds a secret');
  t.comment(
    `secrets in logs: ${lines.length} lines in ${logs.length} files checked for ${Object.keys(secrets).length} secrets, ${gw ? 'through Nginx' : 'without Nginx'}, in ${Date.now() - started} ms`,
  );
});
