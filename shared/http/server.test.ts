import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Forbidden } from '../core/errors.js';
import { createLogger, memorySink } from '../core/log.js';
import { fromFaasHandler, type FaasHandler } from './faas.js';
import fc from 'fast-check';
import { createFaasServer, MAX_BODY_BYTES, PLAIN_PATH } from './server.js';
import { createAppGateway } from '../apps/gateway.js';
import type { Deps } from '../wiring/deps.js';

// The template's HTTP side of the OpenFaaS contract, with raw handlers (no adapter).
const handlers: Record<string, FaasHandler> = {
  '/returns': async (event) => ({ echoed: event.body.toString(), method: event.method, q: event.query.x }),
  '/succeeds': async (_e, ctx) => ctx.status(201).headers({ 'x-a': 'b' }).succeed('{"ok":true}'),
  '/fails': async (_e, ctx) => ctx.fail('boom'),
  '/throws': async () => {
    throw new Error('secret detail');
  },
};

t.test('event and context as the OpenFaaS node template defines them; never a 500', async (t) => {
  const sink = memorySink();
  const server = createFaasServer({
    dispatch: (_m, p) => {
      const h = handlers[p];
      if (!h) throw new Forbidden(`no route ${p}`);
      return { target: { json: fromFaasHandler(h, createLogger({ component: 't', sinks: [sink] })) } };
    },
    log: createLogger({ component: 't', sinks: [sink] }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const ret = await fetch(`${base}/returns?x=1`, { method: 'POST', body: 'hi' });
  t.same(await ret.json(), { echoed: 'hi', method: 'POST', q: '1' }, 'a returned value is the answer');
  const ok = await fetch(`${base}/succeeds`);
  t.equal(ok.status, 201);
  t.equal(ok.headers.get('x-a'), 'b');
  const failed = await fetch(`${base}/fails`);
  t.equal(failed.status, 503, "fail() is a fault: 503, not OpenFaaS's 500");
  t.match(await failed.json(), { msg: /internal error/ });
  const thrown = await fetch(`${base}/throws`);
  t.equal(thrown.status, 503);
  t.notMatch(await thrown.text(), /secret detail/, 'the cause is logged, not leaked');
  t.ok(
    sink.lines.some((l) => l.includes('secret detail')),
    'and it is in the log',
  );
  const unknown = await fetch(`${base}/nope`);
  t.equal(unknown.status, 403);
  t.same(await unknown.json(), { msg: 'no route /nope' });
  const big = await fetch(`${base}/returns`, { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES + 1) });
  t.equal(big.status, 403);
  t.match(await big.json(), { msg: /larger than/ });
  t.equal((await fetch(`${base}/_/health`)).status, 200);
});

t.test('idle keep-alive connections outlive what clients and proxies keep (the client closes them, not a race)', async (t) => {
  const server = createFaasServer({ dispatch: () => ({ target: { json: async () => ({ status: 200, headers: {}, body: '' }) } }), log: createLogger({ component: 'test', sinks: [] }) });
  t.ok(server.keepAliveTimeout > 60_000, `keepAliveTimeout ${server.keepAliveTimeout} ms, beyond Nginx's 60 s`);
  const gateway = createAppGateway({ log: createLogger({ component: 'test', sinks: [] }) } as unknown as Deps);
  t.equal(gateway.keepAliveTimeout, server.keepAliveTimeout, 'the app gateway the same');
});

t.test("/_/health and /_/ready say which function answers, so a supervisor knows it reached that one and not a port's squatter", async (t) => {
  const log = createLogger({ component: 't', sinks: [memorySink()] });
  const named = createFaasServer({ dispatch: () => ({ target: { json: async () => ({ status: 200, headers: {}, body: '' }) } }), log, identity: 'users-token' });
  const plain = createFaasServer({ dispatch: () => ({ target: { json: async () => ({ status: 200, headers: {}, body: '' }) } }), log });
  for (const s of [named, plain]) {
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  }
  const url = (s: typeof named, p: string) => `http://127.0.0.1:${(s.address() as AddressInfo).port}${p}`;
  t.equal((await fetch(url(named, '/_/ready'))).headers.get('x-mlp-function'), 'users-token');
  t.equal((await fetch(url(named, '/_/health'))).headers.get('x-mlp-function'), 'users-token');
  t.equal((await fetch(url(plain, '/_/ready'))).headers.get('x-mlp-function'), null, 'the local runner serves many functions: no one name');
});

t.test('a path taken as it is (no URL parsed) is exactly the pathname `new URL` would give', async (t) => {
  const chars = [...'abcXYZ019_~!$&\'()*+,;=:@/-.%?#\\ "<>`{}^|[]é'];
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...chars), { maxLength: 30 }), (parts) => {
      const target = `/${parts.join('')}`;
      if (!PLAIN_PATH.test(target)) return;
      const url = new URL(target, 'http://localhost');
      if (url.pathname !== target || url.search !== '' || url.host !== 'localhost') throw new Error(`${target}: URL says ${url.pathname}${url.search} on ${url.host}`);
    }),
    { numRuns: 5000 },
  );
  t.ok(PLAIN_PATH.test('/api/v1/users/alice/datasets/mnist'), 'an API path');
  for (const target of ['//evil.example/x', '/a/../b', '/a/./b', '/a/%2e%2e/b', '/a?x=1', '/a#f', '/a b', '/a\\b', '/d/mnist.csv']) {
    t.notOk(PLAIN_PATH.test(target), `${target} is parsed`);
  }
});
