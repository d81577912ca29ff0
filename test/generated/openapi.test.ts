import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import t from 'tap';
import { toFaasHandler, type LoadedFunction } from '../../shared/http/adapter.js';
import { FunctionContext } from '../../shared/http/faas.js';
import { createRouter } from '../../shared/http/router.js';
import { createFaasServer } from '../../shared/http/server.js';
import { loadFunctions } from '../../shared/routes/registry.js';
import type { RouteDef } from '../../shared/routes/route.js';
import { compile, DEFAULT_PATTERN } from '../../shared/core/validation.js';
import { renderOpenApi } from '../../scripts/gen/openapi.js';
import { testDeps } from '../helpers/deps.js';

// The OpenAPI document: valid OpenAPI 3.1 by an independent validator, every public
// route of the registry in it with its patterns, auth and error answers, every example valid
// against its schema, served as the file, and rendered at /api/docs from this origin only.
const ROOT = path.resolve(import.meta.dirname, '../..');
const FILE = readFileSync(path.join(ROOT, 'openapi.json'), 'utf8');

// biome-ignore lint/suspicious/noExplicitAny: walks arbitrary JSON of the document.
type Json = Record<string, any>;
const doc = JSON.parse(FILE) as Json;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const isPublic = (r: RouteDef) => !r.internal && r.auth !== 'service';
/** The registry writes a final {rest+}; OpenAPI has only {rest}. */
const docPath = (r: RouteDef) => r.path.replace(/\{([a-z_]+)\+\}$/, '{$1}');

/** Every operation of the document, with where it is. */
function operations(): { path: string; method: string; op: Json }[] {
  return Object.entries(doc.paths as Json).flatMap(([p, item]) =>
    Object.entries(item as Json)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ path: p, method, op: op as Json })),
  );
}

/** A schema with its #/components/... references replaced by what they point to. */
function deref(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(deref);
  if (!node || typeof node !== 'object') return node;
  const obj = node as Json;
  if (typeof obj.$ref === 'string') {
    const target = (obj.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((at, key) => (at as Json)[key], doc);
    return deref(target);
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, deref(v)]));
}

function ajv2020() {
  // OpenAPI 3.1 schemas are JSON Schema 2020-12; date-time checked as the platform writes it,
  // uri as an http(s) URL (an app's endpoint).
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  ajv.addFormat('date-time', (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat('uri', (s: string) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol));
  return ajv;
}

async function registry(): Promise<LoadedFunction[]> {
  return loadFunctions();
}

/** One request through the template's adapter, the body as the raw text it would send. */
async function request(fn: LoadedFunction, deps: Awaited<ReturnType<typeof testDeps>>, urlPath: string, headers: Record<string, string> = {}) {
  const context = new FunctionContext();
  await toFaasHandler(fn, deps)({ body: Buffer.alloc(0), headers, method: 'GET', query: {}, path: urlPath }, context);
  return { status: context.status(), headers: context.headers(), text: String(context.outcome()?.value ?? '') };
}

t.test('the document is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)', async (t) => {
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  t.same(result.errors, undefined, 'no errors');
  t.equal(result.valid, true);
  t.equal(validator.version, '3.1');
  t.match(doc.openapi, /^3\.1\./);
  const broken = structuredClone(doc);
  broken.paths['/api/v1/users'].post.responses = 'none';
  t.equal((await new Validator().validate(broken)).valid, false, 'the validator does reject a broken document');
});

t.test('openapi.json is what npm run gen makes of the registry now, and the served copy is the same', async (t) => {
  const fns = await registry();
  const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const files = renderOpenApi(fns, version);
  t.equal(files['openapi.json'], FILE, 'openapi.json is current');
  t.equal(readFileSync(path.join(ROOT, 'functions/api-openapi/openapi.json'), 'utf8'), FILE, "the function's copy is the same bytes");
});

t.test('every public route of the registry is in it, no internal one, and nothing else', async (t) => {
  const fns = await registry();
  const ops = operations();
  const byId = new Map(ops.map((o) => [o.op.operationId as string, o]));
  t.equal(byId.size, ops.length, 'operationIds are unique');
  const publicFns = fns.filter((f) => isPublic(f.route));
  t.ok(publicFns.length >= 30, `${publicFns.length} public routes`);
  for (const { route } of publicFns) {
    if (route.method === 'ANY') {
      for (const m of ['get', 'put', 'delete', 'head', 'options']) {
        t.equal(doc.paths[docPath(route)]?.[m]?.operationId, `${route.name}-${m}`, `${route.name}: ${m.toUpperCase()} ${docPath(route)}`);
      }
    } else {
      t.equal(doc.paths[docPath(route)]?.[route.method.toLowerCase()]?.operationId, route.name, `${route.name}: ${route.method} ${route.path}`);
    }
  }
  const internal = fns.filter((f) => !isPublic(f.route));
  t.ok(internal.length > 0);
  for (const { route } of internal) {
    t.notOk(byId.has(route.name), `internal ${route.name} is left out`);
    t.notOk(doc.paths[docPath(route)]?.[route.method.toLowerCase()], `no ${route.method} ${route.path}`);
  }
  for (const { path: p, method, op } of ops) {
    const fn = publicFns.find(
      (f) => docPath(f.route) === p && (f.route.method === 'ANY' ? op.operationId === `${f.route.name}-${method}` : op.operationId === f.route.name && f.route.method.toLowerCase() === method),
    );
    t.ok(fn, `${method.toUpperCase()} ${p} (${op.operationId as string}) is a registered public route`);
  }
  t.ok(
    publicFns.some((f) => f.route.name === 'api-openapi' && f.route.auth === 'none' && f.route.path === '/api/v1/openapi.json'),
    'GET /api/v1/openapi.json, auth none',
  );
});

t.test('path parameters carry the patterns the platform checks', async (t) => {
  const fns = await registry();
  for (const { route } of fns.filter((f) => isPublic(f.route))) {
    for (const { op } of operations().filter((o) => o.path === docPath(route) && (o.op.operationId as string).startsWith(route.name))) {
      const names = [...docPath(route).matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]);
      const params = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'path');
      t.same(
        params.map((p) => p.name),
        names,
        `${op.operationId as string}: one parameter per {…}`,
      );
      for (const p of params) {
        t.equal(p.required, true);
        t.same(
          p.schema,
          { type: 'string', pattern: route.params?.[p.name as string] ?? DEFAULT_PATTERN },
          `${op.operationId as string}: {${p.name as string}} ${route.params?.[p.name as string] ?? 'default pattern'}`,
        );
      }
    }
  }
  t.equal(doc.paths['/api/v1/users/{user}/datasets/{name}'].get.parameters[1].schema.pattern, '^(?!\\.)(?!.*\\.\\.)[a-z.]{1,50}$', 'a dataset name has its own pattern');
});

t.test('request bodies are the schemas ajv compiles, each with examples that validate', async (t) => {
  const fns = await registry();
  const ajv = ajv2020();
  let examples = 0;
  for (const { route } of fns.filter((f) => isPublic(f.route) && f.route.body && f.route.body !== 'ignored')) {
    const op = doc.paths[docPath(route)][route.method.toLowerCase()] as Json;
    const media = op.requestBody?.content?.['application/json'] as Json;
    t.equal(op.requestBody?.required, true, `${route.name}: a body is required`);
    t.same(media.schema, JSON.parse(JSON.stringify(route.body)), `${route.name}: the route's own schema`);
    t.equal(Object.getOwnPropertySymbols(route.body).length > 0, true, `${route.name}: (the route's schema does carry TypeBox symbols)`);
    const platform = compile(route.body as never);
    const fromDoc = ajv.compile(media.schema as object);
    const named = Object.entries((media.examples ?? {}) as Record<string, { value: unknown }>);
    t.ok(named.length > 0, `${route.name}: has examples`);
    for (const [name, { value }] of named) {
      examples++;
      t.doesNotThrow(() => platform(value, 'body'), `${route.name} example ${name} passes the platform's validator`);
      t.ok(fromDoc(value), `${route.name} example ${name} validates against the document's schema`);
      const extra = { ...(value as object), unknown_field: 'x' };
      t.throws(() => platform(extra, 'body'), `${route.name}: an unknown field is refused by the platform`);
      t.notOk(fromDoc(extra), `${route.name}: and by the document's schema`);
    }
  }
  t.ok(examples >= 10, `${examples} request examples`);
  const ignored = doc.paths['/api/v1/users/{user}'].put.requestBody;
  t.equal(ignored.required, false, 'PUT /api/v1/users/{user}: the body is optional (ignored)');
});

t.test('every example in the document validates against its schema', async (t) => {
  const ajv = ajv2020();
  let count = 0;
  const check = (schema: unknown, value: unknown, where: string) => {
    const validate = ajv.compile(deref(schema) as object);
    t.ok(validate(value), `${where}${validate.errors ? `: ${ajv.errorsText(validate.errors)}` : ''}`);
    count++;
  };
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) {
      node.forEach((n, i) => walk(n, `${where}/${i}`));
      return;
    }
    if (!node || typeof node !== 'object') return;
    const obj = node as Json;
    // A media type: its example(s) against its schema.
    if (obj.schema && 'example' in obj) check(obj.schema, obj.example, `${where} example`);
    if (obj.schema && obj.examples && !Array.isArray(obj.examples)) {
      for (const [name, ex] of Object.entries(obj.examples as Record<string, { value: unknown }>)) check(obj.schema, ex.value, `${where} example ${name}`);
    }
    // A schema: its own examples (JSON Schema 2020-12).
    if (Array.isArray(obj.examples) && (obj.type || obj.$ref)) {
      const { examples, ...schema } = obj;
      (examples as unknown[]).forEach((ex, i) => check(schema, ex, `${where} examples/${i}`));
    }
    for (const [k, v] of Object.entries(obj)) if (k !== 'examples' && k !== 'example') walk(v, `${where}/${k}`);
  };
  walk(doc, '#');
  t.ok(count >= 25, `${count} examples checked`);
  for (const name of ['User', 'Dataset', 'Job', 'JobMetrics', 'Model', 'App', 'Tenant']) t.ok(doc.components.schemas[name].examples?.length, `${name} has an example`);
});

t.test('answers: the success of every route, 403 and 503 {msg} everywhere, 401 with the Basic challenge on /data', async (t) => {
  const fns = await registry();
  const error = doc.components.schemas.Error as Json;
  t.same(error.required, ['msg']);
  t.same(Object.keys(error.properties as object), ['msg']);
  t.equal(doc.components.responses.Forbidden.content['application/json'].schema.$ref, '#/components/schemas/Error');
  t.equal(doc.components.responses.Unavailable.content['application/json'].schema.$ref, '#/components/schemas/Error');
  for (const { path: p, op } of operations()) {
    const id = op.operationId as string;
    const responses = op.responses as Json;
    t.equal(responses['403']?.$ref, '#/components/responses/Forbidden', `${id}: 403 {msg}`);
    t.equal(responses['503']?.$ref, '#/components/responses/Unavailable', `${id}: 503 {msg}`);
    const route = fns.find((f) => f.route.name === id || (f.route.method === 'ANY' && id.startsWith(`${f.route.name}-`)))?.route;
    if (p.startsWith('/data/')) {
      t.equal(responses['401']?.$ref, '#/components/responses/Challenge', `${id}: 401 on /data`);
    } else {
      t.notOk(responses['401'], `${id}: no 401 outside /data (the contract answers 403)`);
    }
    if (op.deprecated) continue;
    if (route && route.method !== 'ANY') t.ok(responses[String(route.status ?? 200)]?.description, `${id}: answers ${route.status ?? 200}`);
    else
      t.ok(
        Object.keys(responses).some((s) => /^2\d\d$/.test(s)),
        `${id}: a success answer`,
      );
  }
  const challenge = doc.components.responses.Challenge as Json;
  t.equal(challenge.headers['WWW-Authenticate'].schema.const, 'Basic realm="MLP"');
  t.equal(doc.paths['/api/v1/users'].post.responses['201'].content['application/json'].schema.$ref, '#/components/schemas/User', 'register answers 201 User');
  t.equal(doc.paths['/data_client.jar'].get.deprecated, true, '/data_client.jar: a refusal by contract, marked deprecated');
});

t.test('auth as security schemes: bearer, basic for the token, ?token= for WebSockets, Basic with a token on /data', async (t) => {
  const fns = await registry();
  const schemes = doc.components.securitySchemes as Json;
  t.match(schemes.bearer, { type: 'http', scheme: 'bearer' });
  t.match(schemes.password, { type: 'http', scheme: 'basic' });
  t.match(schemes.davBasic, { type: 'http', scheme: 'basic' });
  t.match(schemes.queryToken, { type: 'apiKey', in: 'query', name: 'token' });
  for (const fn of fns.filter((f) => isPublic(f.route) && f.route.method !== 'ANY')) {
    const op = doc.paths[docPath(fn.route)][fn.route.method.toLowerCase()] as Json;
    const names = (op.security as Json[]).flatMap((s) => Object.keys(s)).sort();
    const expected =
      fn.route.auth === 'basic' ? ['password'] : fn.route.auth === 'none' ? (fn.route.path === '/api/v1/auth' ? ['bearer', 'queryToken'] : []) : fn.upgrade ? ['bearer', 'queryToken'] : ['bearer'];
    t.same(names, expected, `${fn.route.name} (auth ${fn.route.auth}${fn.upgrade ? ', WebSocket' : ''})`);
  }
  t.same(doc.paths['/data/{user}/{rest}'].put.security, [{ bearer: [] }, { davBasic: [] }], '/data: Bearer, or Basic with a token');
  t.ok(doc.paths['/api/v1/users/{user}/job_metrics/{job}'].get.responses['101'], 'the WebSocket upgrade is described');
});

t.test('GET /api/v1/openapi.json serves the file, with an ETag', async (t) => {
  const fns = await registry();
  const deps = await testDeps(t);
  const fn = fns.find((f) => f.route.name === 'api-openapi')!;
  const a = await request(fn, deps, '/api/v1/openapi.json');
  t.equal(a.status, 200);
  t.match(a.headers['content-type'], /^application\/json/);
  t.equal(a.text, FILE, 'the same bytes as openapi.json');
  t.ok(a.headers.etag);
  const again = await request(fn, deps, '/api/v1/openapi.json', { 'if-none-match': a.headers.etag ?? '' });
  t.equal(again.status, 304, 'revalidated by ETag');
  t.equal(again.text, '');
});

t.test('/api/docs answers HTML whose every asset is served by this origin', async (t) => {
  const fns = await registry();
  const deps = await testDeps(t);
  const dispatch = createRouter(fns, deps);
  const get = async (urlPath: string, headers: Record<string, string> = {}) => {
    const { target, params } = dispatch('GET', urlPath);
    if (!('json' in target)) throw new Error(`${urlPath} is a stream route`);
    const answer = await target.json({ body: Buffer.alloc(0), headers, method: 'GET', query: {}, path: urlPath }, params);
    return { status: answer.status, headers: answer.headers, text: String(answer.body) };
  };
  const page = await get('/api/docs');
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.headers['content-security-policy'], /default-src 'self'/);
  t.notMatch(page.headers['content-security-policy'], /https?:|\*/, 'the policy names no other origin');
  const refs = [...page.text.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? '');
  t.ok(refs.length >= 3, `references: ${refs.join(', ')}`);
  for (const ref of refs) {
    t.ok(ref === 'data:,' || (ref.startsWith('/') && !ref.startsWith('//')), `${ref} is on this origin`);
    if (ref.startsWith('/')) {
      const a = await get(ref);
      t.equal(a.status, 200, `${ref} is served`);
      t.match(a.headers['content-type'], /javascript|css|json/, `${ref}: ${a.headers['content-type']}`);
      t.notMatch(a.text.slice(0, 5000), /<!doctype html/i);
      if (ref.endsWith('.css')) t.notMatch(a.text, /@import|url\(\s*["']?(https?:)?\/\//, `${ref} loads nothing from elsewhere`);
      if (ref.startsWith('/api/docs/')) {
        t.match(a.headers['cache-control'], /max-age=\d+/, `${ref} is cacheable`);
        t.equal((await get(ref, { 'if-none-match': a.headers.etag ?? '' })).status, 304, `${ref} revalidates by ETag`);
      }
    }
  }
  const init = await get('/api/docs/init.js');
  t.match(init.text, /url: '\/api\/v1\/openapi\.json'/, "the renderer loads this origin's document");
  t.match(init.text, /validatorUrl: null/, 'and sends it to no online validator');
  t.match((await get('/api/docs/swagger-ui-bundle.js')).text.slice(0, 2000), /SwaggerUIBundle|swagger/i, "the renderer's own bundle");
  const other = await get('/api/docs/index.html');
  t.equal(other.status, 403, 'no other file of node_modules');
  t.match(other.text, /must match/);
});

// The page in a real browser (Debian's chromium, installed by the project's set-up when missing):
// it renders every operation and asks no other origin for anything.
t.test('/api/docs renders in Chromium from this origin alone', async (t) => {
  const { chromium } = await import('playwright-core');
  const setup = (await import(new URL('../../scripts/lib/setup.mjs', import.meta.url).href)) as { ensureChromium(): string };
  const fns = await registry();
  const deps = await testDeps(t);
  const server = createFaasServer({ dispatch: createRouter(fns, deps), log: deps.log });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: setup.ensureChromium(),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.teardown(() => browser.close());
  const page = await browser.newPage();
  const requested: string[] = [];
  const problems: string[] = [];
  page.on('request', (r) => requested.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto(`${origin}/api/docs`);
  await page.waitForSelector('.opblock', { timeout: 60_000 });
  const shown = await page.locator('.opblock').count();
  t.equal(shown, operations().length, `all ${shown} operations are shown`);
  t.ok(await page.getByText('MLP API').first().isVisible(), 'the title');
  t.same(
    requested.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:')),
    [],
    `only this origin was asked (${requested.length} requests)`,
  );
  t.same(problems, [], 'no script or policy errors');
});
