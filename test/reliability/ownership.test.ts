import * as tf from '@tensorflow/tfjs';
import t from 'tap';
import WebSocket from 'ws';
import { loadFunctions } from '../../shared/routes/registry.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { endedJob, ckptOf, modelSettled, tinyModel, userOn } from '../helpers/models.js';
import { startTestPlatform } from '../helpers/platform.js';
import { fillPath, rawRequest } from './helpers.js';

// Ownership: every route of the route registry whose auth is owner or owner-or-job,
// called on alice's objects with a token that must not reach them — bob's (a foreign user), a job
// token of alice's job `one` on her job `two` (or on a route that takes no job token), alice's own
// token once expired (issued under an injected clock two hours back, TTL one hour) and once
// revoked (logout) — answers 403, and the msg for an existing object and for a missing one is the
// same (once the name the caller sent is blanked out): no hint whether the object exists.
// Stream routes are included (WebDAV with GET, PUT, PROPFIND, DELETE; the followed log), and the
// metrics WebSocket is upgraded with ?token= and with the header. The internal routes (service
// token only) get the same tokens plus alice's valid one and her job's, and the tenant route (any
// user) the job, expired and revoked tokens. Nothing may change.

/** Bodies a route would accept from its owner: a refusal must come from the token, not the body. */
const VALID_BODY: Record<string, unknown> = {
  'apps-create': { name: 'fresh', model_name: 'mod', cpu: 0.1, ram: 100 },
  'datasets-create': { name: 'fresh', size: 1 },
  'datasets-heartbeat': { state: 'error', progress: 0 },
  'jobs-create': { name: 'fresh', entry: 'done.mjs', cpu: 0.1, ram: 100 },
  'jobs-heartbeat': { state: 'error', progress: 0 },
  'jobs-stop': {},
  'metrics-publish': { epoch: 0, accuracy: 0.5, loss: 1, progress: 1 },
  'models-create': { name: 'fresh', src: 'one' },
  'users-deactivate': {},
  'web-app-predict': { instances: [[5.1, 3.5, 1.4, 0.2]] },
};

tf.enableProdMode(); // no "install tfjs-node" banner in the test output

const EXISTING = { user: 'alice', name: 'data', job: 'two', model: 'mod', app: 'app', sweep: 'swp', rest: 'data/x.txt', tenant: 'default' };
const MISSING = { user: 'alice', name: 'nodata', job: 'nojob', model: 'nomodel', app: 'noapp', sweep: 'nosweep', rest: 'nodata/x.txt', tenant: 'default' };

t.test('ownership: foreign, other-job, expired and revoked tokens get 403 with no hint of existence', async (t) => {
  const started = Date.now();
  let skewMs = 0;
  const p = await startTestPlatform({ MLP_JOB_SANDBOX: 'off', MLP_TOKEN_TTL: '3600', MLP_TENANT_CPU: '4', MLP_TENANT_RAM: '4000' }, { now: () => new Date(Date.now() + skewMs) });
  t.teardown(() => p.close());

  const alice = await userOn(p, 'alice');
  const bob = await userOn(p, 'bob');
  // Expired: issued by the token route itself while the platform's clock read two hours ago.
  skewMs = -2 * 3600_000;
  const expired = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  skewMs = 0;
  const revoked = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  t.equal((await p.call('DELETE', '/api/v1/users/alice/token', { token: revoked })).status, 200, 'logout');
  t.equal((await p.call('GET', '/api/v1/users/alice', { token: expired })).status, 403, 'the expired token is refused');

  // alice's objects: a dataset (creating), two finished jobs, a model of `one`, an app of the model.
  t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'data', size: 100 } })).status, 201);
  t.match(await endedJob(p, alice, 'alice', 'one'), { state: 'finished' });
  t.match(await endedJob(p, alice, 'alice', 'two'), { state: 'finished' });
  await tinyModel(ckptOf(p, 'alice', 'one'));
  t.equal((await p.call('POST', '/api/v1/users/alice/models', { token: alice, body: { name: 'mod', src: 'one' } })).status, 201);
  t.match(await modelSettled(p, alice, 'alice', 'mod'), { state: 'ready' });
  t.equal((await p.call('POST', '/api/v1/users/alice/apps', { token: alice, body: { name: 'app', model_name: 'mod', cpu: 0.1, ram: 100 } })).status, 201);
  const sweep = { name: 'swp', entry: 'done.mjs', space: { x: [1] }, metric: 'loss', cpu: 0.1, ram: 100 };
  t.equal((await p.call('POST', '/api/v1/users/alice/sweeps', { token: alice, body: sweep })).status, 201);
  // A job token as the orchestrator issues it (shared/jobs/lifecycle.ts), for job `one`.
  const one = await jobsCollection(p.deps.store).get('alice/one');
  const jobToken = (await p.deps.tokens.issue({ sub: 'alice', kind: 'job', job: 'one', job_id: one?.uid ?? '' }, 3600)).token;

  const credentials: [string, string][] = [
    ['foreign user', bob],
    ['job token of another job', jobToken],
    ['expired token', expired],
    ['revoked token', revoked],
  ];

  const fns = (await loadFunctions()).filter((fn) => fn.route.auth === 'owner' || fn.route.auth === 'owner-or-job');
  t.ok(fns.length >= 25, `${fns.length} owner / owner-or-job routes in the registry`);
  const problems: string[] = [];
  let cases = 0;

  /** The msg with the names the caller sent blanked out. */
  const blank = (msg: string, values: Record<string, string>) => {
    let out = msg;
    for (const v of Object.values(values).sort((a, b) => b.length - a.length)) out = out.split(v).join('<x>');
    return out;
  };
  const msgOf = (text: string): string | undefined => {
    try {
      const m = (JSON.parse(text) as { msg?: unknown }).msg;
      return typeof m === 'string' ? m : undefined;
    } catch {
      return undefined;
    }
  };

  for (const fn of fns) {
    const { route } = fn;
    // Routes naming only the user: the "missing" case is a user that does not exist.
    const onlyUser = !/\{(?!user)[a-z_]+\+?\}/.test(route.path);
    const existing = EXISTING;
    const missing = onlyUser ? { ...MISSING, user: 'ghost' } : MISSING;
    const methods = route.method === 'ANY' ? ['GET', 'PUT', 'PROPFIND', 'DELETE', 'MKCOL'] : [route.method];
    for (const method of methods) {
      for (const [who, token] of credentials) {
        const body = route.method === 'ANY' ? (method === 'PUT' ? 'bytes' : undefined) : VALID_BODY[route.name] !== undefined ? JSON.stringify(VALID_BODY[route.name]) : undefined;
        const answers = await Promise.all(
          [existing, missing].map(async (values) => {
            const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) };
            return rawRequest(p.url, method, fillPath(route.path, values), headers, body);
          }),
        );
        cases += 2;
        const [a, b] = answers as [{ status: number; text: string }, { status: number; text: string }];
        const what = `${method} ${route.path} (${route.name}) with ${who}`;
        if (a.status !== 403 || b.status !== 403) problems.push(`${what}: ${a.status} ${a.text} / ${b.status} ${b.text}`);
        const ma = msgOf(a.text);
        const mb = msgOf(b.text);
        if (ma === undefined || mb === undefined) problems.push(`${what}: no {msg}: ${a.text} / ${b.text}`);
        else if (blank(ma, existing) !== blank(mb, missing)) problems.push(`${what}: msgs differ: "${ma}" / "${mb}"`);
      }
    }
    // The WebSocket of the same path: ?token= (browsers) and the header.
    if (fn.upgrade) {
      for (const [who, token] of credentials) {
        for (const via of ['query', 'header'] as const) {
          const answers = await Promise.all(
            [existing, missing].map(
              (values) =>
                new Promise<{ status: number; text: string }>((resolve) => {
                  const url = `${p.url.replace('http', 'ws')}${fillPath(route.path, values)}${via === 'query' ? `?token=${encodeURIComponent(token)}` : ''}`;
                  const ws = new WebSocket(url, via === 'header' ? { headers: { authorization: `Bearer ${token}` } } : {});
                  ws.on('open', () => {
                    ws.close();
                    resolve({ status: 101, text: '' });
                  });
                  ws.on('unexpected-response', (_req, res) => {
                    let text = '';
                    res.on('data', (d: Buffer) => (text += d.toString()));
                    res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
                  });
                  ws.on('error', (err) => resolve({ status: -1, text: err.message }));
                }),
            ),
          );
          cases += 2;
          const [a, b] = answers as [{ status: number; text: string }, { status: number; text: string }];
          const what = `WebSocket ${route.path} with ${who} (${via})`;
          if (a.status !== 403 || b.status !== 403) problems.push(`${what}: ${a.status} ${a.text} / ${b.status} ${b.text}`);
          const ma = msgOf(a.text);
          const mb = msgOf(b.text);
          if (ma === undefined || mb === undefined || blank(ma, existing) !== blank(mb, missing)) problems.push(`${what}: msgs differ or missing: ${a.text} / ${b.text}`);
        }
      }
    }
  }

  // Internal routes (service token only) and the one route any user may call (the tenant): the
  // same credentials, and for internal routes alice's own valid token and her job's token too.
  const others = (await loadFunctions()).filter((fn) => fn.route.auth === 'service' || fn.route.auth === 'user');
  t.ok(others.length >= 10, `${others.length} service / user routes in the registry`);
  for (const fn of others) {
    const { route } = fn;
    const creds: [string, string][] =
      route.auth === 'service' ? [...credentials, ['a valid user token', alice], ["the job's own token", jobToken]] : credentials.filter(([who]) => who !== 'foreign user');
    const bodyOf = (): string | undefined => (route.body === undefined ? undefined : '{}');
    const missingTenant = { ...MISSING, tenant: 'nosuch' };
    for (const [who, token] of creds) {
      const answers = await Promise.all(
        [EXISTING, route.auth === 'user' ? missingTenant : MISSING].map((values) =>
          rawRequest(p.url, route.method, fillPath(route.path, values), { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, bodyOf()),
        ),
      );
      cases += 2;
      const [a, b] = answers as [{ status: number; text: string }, { status: number; text: string }];
      const what = `${route.method} ${route.path} (${route.name}) with ${who}`;
      if (a.status !== 403 || b.status !== 403) problems.push(`${what}: ${a.status} ${a.text} / ${b.status} ${b.text}`);
      const ma = msgOf(a.text);
      const mb = msgOf(b.text);
      if (ma === undefined || mb === undefined || blank(ma, EXISTING) !== blank(mb, route.auth === 'user' ? missingTenant : MISSING))
        problems.push(`${what}: msgs differ or missing: ${a.text} / ${b.text}`);
    }
  }

  t.same(problems, [], `every refusal was 403 with the same msg for existing and missing objects (${cases} requests)`);

  // Nothing changed: alice is active, her objects are there and not deleting, nothing `fresh` exists.
  t.match((await p.call('GET', '/api/v1/users/alice', { token: alice })).json, { state: 'Actived' });
  t.equal((await p.call('GET', '/api/v1/users/bob', { token: bob })).status, 200, "bob's token still works");
  for (const [kind, name] of [
    ['datasets', 'data'],
    ['jobs', 'one'],
    ['jobs', 'two'],
    ['models', 'mod'],
    ['apps', 'app'],
  ] as const) {
    const got = await p.call('GET', `/api/v1/users/alice/${kind}/${name}`, { token: alice });
    t.equal(got.status, 200, `${kind}/${name} is there`);
    t.not((got.json as { state?: string }).state, 'deleting', `${kind}/${name} is not being deleted`);
  }
  for (const kind of ['datasets', 'jobs', 'models', 'apps']) t.equal((await p.call('GET', `/api/v1/users/alice/${kind}/fresh`, { token: alice })).status, 403, `no ${kind}/fresh was made`);
  t.same(((await p.call('GET', '/api/v1/users/alice/job_metrics/two', { token: alice })).json as unknown[]).length, 0, 'no metric was published');
  const listing = await p.call('GET', '/data/alice/data/', { token: alice });
  t.same(listing.json, [], 'nothing was uploaded to the dataset');
  t.comment(`ownership: ${cases} requests on ${fns.length + others.length} routes in ${Date.now() - started} ms`);
});
