import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import type { Deps } from '../wiring/deps.js';
import { Forbidden, Unavailable } from '../core/errors.js';
import { createLogger, memorySink } from '../core/log.js';
import type { RouteDef } from '../routes/route.js';
import type { LoadedFunction } from './adapter.js';
import { errorAnswer, rawAnswer as rawHttp } from './answer.js';
import { createFaasServer } from './server.js';
import { createUpgrader } from './upgrade.js';

/**
 * Every x-mlp-error header is the {msg} body as ASCII-only JSON, however the answer is made: the
 * adapter's, a refused WebSocket upgrade's, the server's answer to a malformed request. Seen
 * failing before the three shared one helper: a refused upgrade put the raw non-ASCII text in it.
 */
const MSG = 'token of jösé refused ✓ 漢字';
const log = createLogger({ component: 't', sinks: [memorySink()] });

/** The raw answer to `request` on a fresh connection, split into header lines and body. */
async function rawAnswer(t: Test, server: http.Server, request: string) {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1', () => socket.write(request));
    socket
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
  const split = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, split);
  const headers = new Map(
    head
      .toString('latin1')
      .split('\r\n')
      .slice(1)
      .map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { head, headers, body: bytes.subarray(split + 4).toString('utf8') };
}

function checkHeader(t: Test, head: Buffer, header: string | undefined, body: string, msg: string) {
  t.ok(
    head.every((b) => b < 0x80),
    'every header byte is ASCII',
  );
  t.equal(header, body, 'x-mlp-error carries the same body');
  t.same(JSON.parse(body), { msg }, 'which decodes to the message');
}

t.test('the adapter', async (t) => {
  const answer = errorAnswer(new Forbidden(MSG), log, 'r');
  const header = answer.headers['x-mlp-error'] as string;
  t.equal(answer.status, 403);
  t.equal(answer.headers['x-mlp-code'], Forbidden.CODE);
  checkHeader(t, Buffer.from(header, 'utf8'), header, String(answer.body), MSG);
});

t.test('a refused WebSocket upgrade', async (t) => {
  const route = { name: 'ws', method: 'GET', path: '/api/v1/ws', auth: 'user' } as RouteDef;
  const fn: LoadedFunction = { route, handle: async () => '', upgrade: async () => undefined };
  const deps = { log, auth: { authenticate: () => Promise.reject(new Forbidden(MSG)) } } as unknown as Deps;
  const server = http.createServer();
  const upgrade = createUpgrader([fn], deps);
  server.on('upgrade', upgrade);
  const a = await rawAnswer(
    t,
    server,
    'GET /api/v1/ws HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
  );
  t.match(a.head.toString('latin1'), /^HTTP\/1\.1 403 /);
  checkHeader(t, a.head, a.headers.get('x-mlp-error'), a.body, MSG);
  t.equal(a.headers.get('content-length'), String(Buffer.byteLength(a.body)));
});

t.test('the server’s answer to a request its parser refuses', async (t) => {
  const server = createFaasServer({ dispatch: () => ({ target: { json: async () => ({ status: 200, headers: {}, body: '' }) } }), log });
  const a = await rawAnswer(t, server, 'GET / HTTP/1.1\r\nbad header\r\n\r\n');
  t.match(a.head.toString('latin1'), /^HTTP\/1\.1 403 /);
  checkHeader(t, a.head, a.headers.get('x-mlp-error'), a.body, 'malformed HTTP request');
});

t.test('the raw answer both of those write, with a non-ASCII message', async (t) => {
  const raw = Buffer.from(rawHttp(errorAnswer(new Unavailable(MSG), log, 'r'), { 'x-request-id': 'r' }), 'utf8');
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split);
  const headers = new Map(
    head
      .toString('latin1')
      .split('\r\n')
      .slice(1)
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
  );
  const body = raw.subarray(split + 4).toString('utf8');
  t.match(head.toString(), /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  t.equal(headers.get('x-request-id'), 'r');
  t.equal(headers.get('content-length'), String(Buffer.byteLength(body)));
  checkHeader(t, head, headers.get('x-mlp-error'), body, MSG);
});
