import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { call } from '../helpers/platform.js';
import { freePort, spawnNode } from '../helpers/process.js';

// The function bundles the image runs (scripts/bundle-functions.mjs), built into a folder of this
// test's own laid out as an image is (dist/bundles/{name}/ beside node_modules and package.json),
// never into the checkout's dist/ that other tests read: each bundle starts, serves its route with
// plain node, and loads none of the clients of real servers at start.
const ROOT = path.resolve(import.meta.dirname, '../..');
const FUNCTIONS = ['users-create', 'users-token'];
const SECRETS = { MLP_SECRET: 's'.repeat(40), MLP_SERVICE_TOKEN: 'v'.repeat(40) };

t.setTimeout(10 * 60_000);

const app = mkdtempSync(path.join(tmpdir(), 'mlp-bundle-'));
t.teardown(() => rmSync(app, { recursive: true, force: true }));
writeFileSync(path.join(app, 'package.json'), '{ "type": "module" }\n');
symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
const OUT = path.join(app, 'dist/bundles');

/** The packages a file imports statically (`import ... from "x"` at its top), and the sibling files it so imports. */
function staticImports(text: string): { packages: string[]; files: string[] } {
  const specs = [...text.matchAll(/^import\s+(?:[^;]*?\s+from\s+)?"([^"]+)";/gm)].map((m) => m[1] ?? '');
  return { packages: specs.filter((s) => !s.startsWith('.') && !s.startsWith('node:')), files: specs.filter((s) => s.startsWith('./')) };
}

/** What a bundle loads before its first line runs: index.js and the chunks it imports statically, transitively. */
function loadedAtStart(dir: string): { files: string[]; packages: string[] } {
  const files: string[] = [];
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.includes(file)) return;
    files.push(file);
    const found = staticImports(readFileSync(path.join(dir, file), 'utf8'));
    for (const p of found.packages) packages.add(p);
    for (const f of found.files) visit(f.slice(2));
  };
  visit('index.js');
  return { files, packages: [...packages].sort() };
}

t.test('bundle-functions builds the named functions into the folder given', async (t) => {
  const run = spawnSync(process.execPath, [path.join(ROOT, 'scripts/bundle-functions.mjs'), '--out', OUT, '--only', FUNCTIONS.join(',')], { cwd: ROOT, encoding: 'utf8' });
  t.equal(run.status, 0, `bundle-functions succeeded: ${run.stdout}${run.stderr}`);
  for (const name of FUNCTIONS) {
    const start = loadedAtStart(path.join(OUT, name));
    t.same(start.packages, [], `${name}: its start imports no package from node_modules (mongodb, kafkajs, the Kubernetes client stay behind import())`);
    t.ok(start.files.length < 30, `${name}: a handful of files at start, not hundreds (${start.files.length})`);
  }
});

t.test('a bundled function serves its route with plain node, as the image runs it', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-bundle-root-'));
  const secrets = path.join(root, 'no-secrets');
  mkdirSync(secrets);
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const start = async (name: string) => {
    const port = await freePort();
    const fn = spawnNode(t, [path.join(OUT, name, 'index.js')], { ...SECRETS, MLP_FUNCTION: name, PORT: String(port), MLP_LISTEN_HOST: '127.0.0.1', MLP_ROOT: root, MLP_SECRETS_DIR: secrets });
    await fn.waitFor(/function listening/);
    return { fn, base: `http://127.0.0.1:${port}` };
  };
  const stop = async ({ fn }: Awaited<ReturnType<typeof start>>) => {
    fn.child.kill('SIGTERM');
    t.equal((await fn.exited).code, 0, 'SIGTERM stops it cleanly');
  };

  // The embedded store is one process's at a time: the functions run one after the other.
  const create = await start('users-create');
  t.equal((await call(create.base, 'GET', '/_/ready')).status, 200, 'ready');
  const created = await call(create.base, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  t.equal(created.status, 201, created.text);
  await stop(create);

  const token = await start('users-token');
  const answer = await call(token.base, 'GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] });
  t.equal(answer.status, 200, answer.text);
  t.match(answer.json, /^ey[\w-]+\.[\w-]+\.[\w-]+$/, 'a signed token');
  t.equal((await call(token.base, 'POST', '/api/v1/users', { body: { username: 'bob', password: 'password1' } })).status, 403, 'and only its own route');
  await stop(token);
});

t.test('a bundle serves only its own function', async (t) => {
  const fn = spawnNode(t, [path.join(OUT, 'users-token', 'index.js')], { ...SECRETS, MLP_FUNCTION: 'users-create', PORT: '0', MLP_ROOT: app });
  t.equal((await fn.exited).code, 1);
  t.match(fn.output(), /this bundle serves users-token, not users-create/);
});

t.test('the start check can fail: a static import of a package is seen', async (t) => {
  t.same(staticImports('import {\n  MongoClient\n} from "mongodb";\nimport "./chunk-A.js";\nimport path from "node:path";\n'), { packages: ['mongodb'], files: ['./chunk-A.js'] });
});
