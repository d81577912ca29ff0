import http from 'node:http';
import { randomUUID as uuid } from 'node:crypto';
import { Invalid } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Duplex } from 'node:stream';
import type { Endpoint, RawHandler } from './adapter.js';
import { errorAnswer, rawAnswer, writeAnswer, type Answer } from './answer.js';
import type { Upgrader } from './upgrade.js';
import type { FunctionEvent } from './faas.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export interface Timeouts {
  /** A buffered (JSON) route's body must have arrived whole within this, from its headers on. */
  requestMs: number;
  /** A stream route's connection may stay silent this long: while its body comes in, or while its answer waits for the client to read. */
  idleMs: number;
}

/**
 * Node's default requestTimeout (5 minutes for the whole request) cut slow uploads with 408,
 * although Nginx gives stream routes an hour: stream routes are bounded by idleness instead, and
 * JSON routes keep a bound on the whole body. Headers always have Node's headersTimeout (60 s).
 */
export const DEFAULT_TIMEOUTS: Timeouts = { requestMs: 60_000, idleMs: 5 * 60_000 };

/** A buffered route's endpoint, or a stream route's raw handler. */
export type Target = { json: Endpoint } | { raw: RawHandler };

/**
 * Picks the handler for a request, or throws a ClientError (unknown route or method); `params`
 * are the raw parameters of the path it matched, so the adapter does not match it again.
 */
export type Dispatch = (method: string, path: string) => { target: Target; params?: Record<string, string> };

/** Serves FaaS handlers over HTTP the way of-watchdog `mode=http` and Knative expect. */
/**
 * `identity` names what the server serves (a function's name): /_/health and /_/ready say it in
 * `x-mlp-function`, so a supervisor that picked the port knows it reached that very process and
 * not another that took the port first (scripts/cluster/functions.mjs).
 */
export function createFaasServer(opts: { dispatch: Dispatch; log: Logger; ready?: () => Promise<void>; upgrade?: Upgrader; timeouts?: Partial<Timeouts>; identity?: string }): http.Server {
  const timeouts: Timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
  const options = { ...opts, timeouts };
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    void serve(req, res, options).catch((err: unknown) => {
      // serve() answers every error itself; reaching here means the socket broke mid-answer.
      opts.log.error('response failed', { err: (err as Error).message });
      res.destroy();
    });
  });
  answerClientErrors(server);
  keepIdleConnections(server);
  const upgrade = opts.upgrade;
  if (upgrade) server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => upgrade(req, socket, head));
  return server;
}

/**
 * Requests Node's parser refuses before any handler runs (headers over 16 KiB, a malformed
 * request line or header, headers slower than headersTimeout) got Node's own 431, 400 or 408:
 * the contract answers every client error 403 {msg} (test/reliability/fuzz.test.ts).
 */
/**
 * Idle keep-alive connections stay 65 s, longer than clients and proxies keep them (undici ~4 s
 * below what the server announces; Nginx 60 s), so the client, not the server, closes them. With
 * Node's 5 s a client could send on a connection the server was closing at that moment and get
 * ECONNRESET — seen in tests on a machine at load average 75.
 */
export function keepIdleConnections(server: http.Server): void {
  server.keepAliveTimeout = 65_000;
}

export function answerClientErrors(server: http.Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const msg = err.code === 'HPE_HEADER_OVERFLOW' ? 'request headers are too large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'request headers did not arrive in time' : 'malformed HTTP request';
    socket.end(rawAnswer(errorAnswer(new Invalid(msg), noLog, '')));
  });
}

/**
 * A request target that `new URL` would leave as it is: an absolute path of unreserved and
 * sub-delimiter characters with no dot (no dot segment to resolve), no percent escape, no query,
 * no fragment, and not starting `//` (a host to `new URL`) (shared/http/server.test.ts holds it to `new URL`'s pathname).
 */
export const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9_~!$&'()*+,;=:@/-]*$/;

const OK: Answer = { status: 200, headers: { 'content-type': 'text/plain' }, body: 'OK' };
// A client error is never logged by errorAnswer; the parser's refusals have no request to log under.
const noLog = { error: () => undefined } as unknown as Logger;

async function serve(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  opts: { dispatch: Dispatch; log: Logger; ready?: () => Promise<void>; timeouts: Timeouts; identity?: string },
): Promise<void> {
  const target0 = req.url ?? '/';
  // A plain path (most API calls) is its own pathname: parsing it as a URL, a measurable share of
  // a GET, would change nothing. Anything else (a query, dots, escapes) is parsed.
  const url = PLAIN_PATH.test(target0) ? undefined : new URL(target0, 'http://localhost');
  const pathname = url ? url.pathname : target0;
  const requestId = header(req, 'x-request-id') ?? uuid();
  req.headers['x-request-id'] = requestId;
  try {
    const who = opts.identity ? { 'x-mlp-function': opts.identity } : undefined;
    if (pathname === '/_/health') return writeAnswer(res, OK, who);
    if (pathname === '/_/ready') {
      await opts.ready?.();
      return writeAnswer(res, OK, who);
    }
    const { target, params } = opts.dispatch(req.method ?? 'GET', pathname);
    // Stream routes read the body themselves (no size limit here) and answer on res.
    if ('raw' in target) {
      boundByIdleness(req, res, opts.timeouts.idleMs);
      return await target.raw(req, res, url ?? new URL(target0, 'http://localhost'), params);
    }
    const body = await readBody(req, MAX_BODY_BYTES, opts.timeouts.requestMs);
    const event: FunctionEvent = {
      body,
      headers: flatHeaders(req.headers),
      method: req.method ?? 'GET',
      query: !url || url.search === '' ? {} : Object.fromEntries(url.searchParams),
      path: pathname,
    };
    writeAnswer(res, await target.json(event, params));
  } catch (err) {
    const answer = errorAnswer(err, opts.log.child({ request_id: requestId }), requestId);
    // After a refused oversized body the rest of it is not read; close rather than reuse the socket.
    writeAnswer(res, answer, req.complete ? undefined : { connection: 'close' });
  }
}

/**
 * A stream route may take as long as it needs while bytes flow. The socket is cut when the client
 * has sent nothing of an unfinished body for `ms`, or has read nothing of the answer for `ms`
 * while it waits; an answer that is quiet by nature (a followed log) is left open.
 */
function boundByIdleness(req: http.IncomingMessage, res: http.ServerResponse, ms: number): void {
  // Node emits 'timeout' on the request only while its body is incomplete, else on the response.
  req.setTimeout(ms, () => req.socket.destroy());
  res.on('timeout', () => {
    if (res.writableNeedDrain) res.socket?.destroy();
  });
}

const EMPTY = Buffer.alloc(0);

function readBody(req: http.IncomingMessage, limit: number, withinMs: number): Promise<Buffer> {
  // Neither header means no body at all (RFC 9112 §6.3): most GETs need no listeners and no
  // timer, which were a measurable share of a GET under load (docs/benchmarks.md).
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(EMPTY);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) return reject(new Invalid(`body is larger than ${limit} bytes`));
    const refuse = (err: Error) => {
      clearTimeout(timer);
      req.removeAllListeners('data');
      req.pause();
      reject(err);
    };
    const timer = setTimeout(() => refuse(new Invalid(`body did not arrive within ${withinMs / 1000} s`)), withinMs);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return refuse(new Invalid(`body is larger than ${limit} bytes`));
      chunks.push(chunk);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
