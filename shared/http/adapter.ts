import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID as uuid } from 'node:crypto';
import type { Principal } from '../auth/principal.js';
import type { Deps } from '../wiring/deps.js';
import { Invalid } from '../core/errors.js';
import { Reply, type Handler, type RouteDef, type Service, type StreamHandler, type UpgradeHandler } from '../routes/route.js';
import { compile, type Validator } from '../core/validation.js';
import type { TSchema } from '@sinclair/typebox';
import type { FaasHandler, FunctionEvent } from './faas.js';
import { errorAnswer, writeAnswer, type Answer } from './answer.js';
import { compileRoute } from './compiled-route.js';

export interface LoadedFunction {
  route: RouteDef;
  handle: Handler<RouteDef> | StreamHandler;
  /** WebSocket upgrades of the route's GET (handler.ts `export const upgrade`). */
  upgrade?: UpgradeHandler;
  /** An always-on consumer (handler.ts `export const service`). */
  service?: Service;
}

/** A stream route's entry: the raw request and response, with the parsed URL and the router's match. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, url: URL, matched?: Record<string, string>) => Promise<void>;

/**
 * A buffered route's entry: the request as OpenFaaS hands it over and, when a router already
 * matched the path, its raw parameters; it always resolves to a whole answer (errors mapped).
 */
export type Endpoint = (event: FunctionEvent, matched?: Record<string, string>) => Promise<Answer>;

/**
 * What every request goes through before its handler: the path matched and decoded (unless the
 * router hands over its match), the caller authenticated, the parameters checked against their patterns.
 */
export function requestGate(route: RouteDef, deps: Deps) {
  const { pattern, checks, dav } = compileRoute(route);
  const credentials = dav ? { basicToken: true } : {};
  return async (
    method: string,
    path: string,
    authorization: string | undefined,
    queryToken?: string,
    matched?: Record<string, string>,
  ): Promise<{ params: Record<string, string>; principal: Principal }> => {
    const raw = matched ?? pattern.match(path);
    if (!raw || (!matched && route.method !== 'ANY' && method !== route.method)) throw new Invalid(`no route ${method} ${path}`);
    const params = decodeParams(raw);
    const principal = await deps.auth.authenticate(route.auth, { authorization, queryToken, ...credentials }, params);
    for (const check of checks) {
      if (!check.regex.test(params[check.name] ?? '')) {
        throw new Invalid(`${check.name} "${params[check.name] ?? ''}" must match ${check.source}`);
      }
    }
    return { params, principal };
  };
}

/** The stream-route side of the adapter: same gate and error mapping, raw request and response. */
export function toRawHandler(fn: LoadedFunction, deps: Deps): RawHandler {
  const gate = requestGate(fn.route, deps);
  const log = deps.log.child({ component: fn.route.name });
  const handle = fn.handle as StreamHandler;
  const { dav } = compileRoute(fn.route);
  return async (req, res, url, matched) => {
    const requestId = (req.headers['x-request-id'] as string | undefined) || uuid();
    const reqLog = log.child({ request_id: requestId });
    res.setHeader('x-request-id', requestId);
    const method = req.method ?? 'GET';
    try {
      const { params, principal } = await gate(method, url.pathname, req.headers.authorization, undefined, matched);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));
      await handle({ method, params, query: Object.fromEntries(url.searchParams), headers, principal, requestId, req, res, log: reqLog }, deps);
      reqLog.info('handled', { method, path: url.pathname, status: res.statusCode });
    } catch (err) {
      if (res.headersSent) {
        // Too late for a {msg} answer: cut the connection so the client sees the failure.
        reqLog.error('stream failed after answering began', { err: (err as Error).message });
        res.destroy();
        return;
      }
      const answer = errorAnswer(err, reqLog, requestId, dav);
      reqLog.info('refused', { method, path: url.pathname, status: answer.status, msg: answer.msg });
      // The body may be unread (a refused upload): answer, then close rather than reuse the socket.
      writeAnswer(res, answer, req.complete ? undefined : { connection: 'close' });
    }
  };
}

/**
 * The one adapter between HTTP and handlers: authenticate, validate, call the handler with
 * injected deps, map errors (errorAnswer). No per-request context object: the answer is a plain value.
 */
export function toEndpoint(fn: LoadedFunction, deps: Deps): Endpoint {
  const { route } = fn;
  const gate = requestGate(route, deps);
  const handle = fn.handle as Handler<RouteDef>;
  const validateBody: Validator<unknown> | undefined = route.body && route.body !== 'ignored' ? compile(route.body as TSchema) : undefined;
  const log = deps.log.child({ component: route.name });
  // Reconcilers run every few seconds: their routine passes would flood the log at info.
  const handled = route.schedule ? log.debug : log.info;
  const status = route.status ?? 200;

  return async (event, matched) => {
    const requestId = event.headers['x-request-id'] || uuid();
    try {
      const { params, principal } = await gate(event.method, event.path, event.headers.authorization, undefined, matched);
      const body = route.body === 'ignored' ? undefined : parseBody(event.body, validateBody);
      const result = await handle({ params, query: event.query, headers: event.headers, body, principal, requestId }, deps);
      const reply = result instanceof Reply ? result : undefined;
      const value = reply ? reply.body : result;
      const answer: Answer = {
        status: reply?.status ?? status,
        headers: reply ? { 'x-request-id': requestId, 'content-type': 'application/json', ...reply.headers } : { 'x-request-id': requestId, 'content-type': 'application/json' },
        body: Buffer.isBuffer(value) || (typeof value === 'string' && reply?.headers['content-type']) ? (value as string | Buffer) : JSON.stringify(value ?? ''),
      };
      // A child logger per request cost a handful of closures on every call: the id goes in the fields.
      handled('handled', { request_id: requestId, method: event.method, path: event.path, status: answer.status });
      return answer;
    } catch (err) {
      const reqLog = log.child({ request_id: requestId });
      const answer = errorAnswer(err, reqLog, requestId);
      reqLog.info('refused', { method: event.method, path: event.path, status: answer.status, msg: answer.msg });
      answer.headers['x-request-id'] = requestId;
      return answer;
    }
  };
}

/** The same adapter under the OpenFaaS Node contract (`event`, `context`), as its template calls a function. */
export function toFaasHandler(fn: LoadedFunction, deps: Deps): FaasHandler {
  const endpoint = toEndpoint(fn, deps);
  return async (event, context) => {
    const answer = await endpoint(event);
    context.status(answer.status).headers(answer.headers).succeed(answer.body);
  };
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    // Most values have no escape to decode.
    if (!value.includes('%')) {
      out[name] = value;
      continue;
    }
    try {
      out[name] = decodeURIComponent(value);
    } catch {
      throw new Invalid(`${name} "${value}" is not valid percent-encoding`);
    }
  }
  return out;
}

function parseBody(bytes: Buffer, validate: Validator<unknown> | undefined): unknown {
  const text = bytes.toString('utf8');
  if (!validate) {
    // Routes without a body accept none, or an empty object (some clients always send one).
    if (text.trim() === '' || /^\s*\{\s*\}\s*$/.test(text)) return undefined;
    throw new Invalid('this route takes no request body');
  }
  if (text.trim() === '') return validate(undefined, 'body');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Invalid('body is not valid JSON');
  }
  return validate(value, 'body');
}
