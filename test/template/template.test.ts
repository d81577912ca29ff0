import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { call } from '../helpers/platform.js';
import { freePort, spawnTs } from '../helpers/process.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TEMPLATE = path.join(ROOT, 'templates/mlp-node20');

t.test('one function served alone by the template, as of-watchdog and Knative run it', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-tpl-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const port = await freePort();
  const fn = spawnTs(t, path.join(TEMPLATE, 'index.ts'), { MLP_FUNCTION: 'users-create', PORT: String(port), MLP_LISTEN_HOST: '127.0.0.1', MLP_ROOT: root });
  await fn.waitFor(/function listening/);
  const base = `http://127.0.0.1:${port}`;
  t.equal((await call(base, 'GET', '/_/health')).text, 'OK');
  t.equal((await call(base, 'GET', '/_/ready')).status, 200);
  const created = await call(base, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  t.equal(created.status, 201);
  t.match(created.json, { username: 'alice', state: 'Actived' });
  const other = await call(base, 'GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] });
  t.equal(other.status, 403, 'a function serves only its own route');
  t.match(other.json, { msg: /no route GET/ });
  fn.child.kill('SIGTERM');
  const { code } = await fn.exited;
  t.equal(code, 0, 'SIGTERM stops it cleanly');
  t.match(readFileSync(path.join(root, 'log/users-create/users-create.log'), 'utf8'), /"request_id":/, 'request logs land under MLP_ROOT/log/{function}/');
});

t.test('the template refuses to start without a function name', async (t) => {
  const fn = spawnTs(t, path.join(TEMPLATE, 'index.ts'), { MLP_FUNCTION: '', PORT: '0' });
  const { code } = await fn.exited;
  t.equal(code, 1);
  t.match(fn.output(), /MLP_FUNCTION must name the function/);
});

t.test('Dockerfile builds one function behind of-watchdog in http mode (static check: no Docker engine here)', async (t) => {
  const text = readFileSync(path.join(TEMPLATE, 'Dockerfile'), 'utf8');
  const env = Object.fromEntries([...text.matchAll(/^\s+([A-Za-z_]+)="?([^"\\\n]*)"?/gm)].map((m) => [m[1], (m[2] ?? '').trim()]));
  t.match(text, /^ARG FUNCTION$/m, 'takes the function as a build argument');
  t.match(text, /FROM ghcr\.io\/openfaas\/of-watchdog:/);
  t.equal(env.mode, 'http');
  t.equal(env.upstream_url, `http://127.0.0.1:${env.PORT}`, 'the watchdog forwards to the port the server listens on');
  t.equal(env.fprocess, 'node dist/bundles/function/index.js', "the function's bundle (scripts/bundle-functions.mjs)");
  t.match(text, /^COPY --from=build \/app\/dist\/bundles\/\$\{FUNCTION\} \.\/dist\/bundles\/function$/m, 'the bundle of the function named, under the one name fprocess runs');
  t.match(text, /CMD \["fwatchdog"\]/);
  // Every path the build copies exists in the repository.
  for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const src of (m[1] ?? '').split(/\s+/)) t.ok(existsSync(path.join(ROOT, src)), `COPY source ${src} exists`);
  }
  const tpl = parse(readFileSync(path.join(TEMPLATE, 'template.yml'), 'utf8')) as { language: string; fprocess: string };
  t.equal(tpl.language, 'mlp-node20');
  t.equal(tpl.fprocess, env.fprocess, 'template.yml and the image agree on the process');
  const knative = parse(readFileSync(path.join(ROOT, 'knative/datasets-get.yaml'), 'utf8')) as { spec: { template: { spec: { containers: { command: string[] }[] } } } };
  t.same(knative.spec.template.spec.containers[0]?.command, env.fprocess?.split(' '), 'Knative runs the same command as the watchdog (scripts/gen/deploy-facts.ts ENTRY)');
});
