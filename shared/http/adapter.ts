import type { IncomingMessage, ServerResponse } from 'node:http';
import { v4 as uuid } from 'uuid';
import { DAV_CHALLENGE, isDavPath, Unauthenticated, type Principal } from '../auth/principal.js';
import type { Deps } from '../deps.js';
import { INTERNAL_CODE, Invalid, isClientError, Unavailable, WebDavStatus } from '../errors.js';
import type { Logger } from '../log.js';
import { Reply, type Handler, type RouteDef, type Service, type StreamHandler, type UpgradeHandler } from '../route.js';
import { compile, DEFAULT_PATTERN, type Validator } from '../validation.js';
import type { TSchema } from '@sinclair/typebox';
import { FunctionContext, type FaasHandler, type FunctionEvent } from './faas.js';
import { CODE_HEADER, ERROR_HEADER, errorBody } from './error-header.js';
import { compilePath } from './path-pattern.js';

export interface LoadedFunction {
  route: RouteDef;
  handle: Handler<RouteDef> | StreamHandler;
  /** WebSocket upgrades of the route's GET (handler.ts `export const upgrade`). */
  upgrade?: UpgradeHandler;
  /** An always-on consumer (handler.ts `export const service`). */
  service?: Service;
}

/** A stream route's entry: the raw request and response, with the parsed URL. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/**
 * What every request goes through before its handler: the path matched and decoded,
 * the caller authenticated, the path parameters checked against their patterns.
 */
export function requestGate(route: RouteDef, deps: Deps) {
  const pattern = compilePath(route.path);
  const paramChecks = pattern.params.map((name) => {
    const source = route.params?.[name] ?? DEFAULT_PATTERN;
    return { name, source, regex: new RegExp(source) };
  });
  // docs/api.md#datasets: on /data, Basic with the username and an API token is accepted as the Bearer token is.
  const basicToken = isDavPath(route.path);
  return async (method: string, path: string, authorization: string | undefined, queryToken?: string): Promise<{ params: Record<string, string>; principal: Principal }> => {
    const raw = pattern.match(path);
    if (!raw || (route.method !== 'ANY' && method !== route.method)) throw new Invalid(`no route ${method} ${path}`);
    const params = decodeParams(raw);
    const principal = await deps.auth.authenticate(route.auth, { authorization, queryToken, ...(basicToken ? { basicToken } : {}) }, params);
    for (const check of paramChecks) {
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
  const dav = isDavPath(fn.route.path);
  return async (req, res, url) => {
    const requestId = (req.headers['x-request-id'] as string | undefined) || uuid();
    const reqLog = log.child({ request_id: requestId });
    res.setHeader('x-request-id', requestId);
    const method = req.method ?? 'GET';
    try {
      const { params, principal } = await gate(method, url.pathname, req.headers.authorization);
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
      const context = new FunctionContext();
      const msg = answerError(err, context, reqLog, requestId, dav);
      // docs/api.md#datasets: on /data alone, no credentials at all is a 401 challenge (standard WebDAV clients
      // send credentials only after one); wrong or foreign credentials stay 403.
      if (dav && err instanceof Unauthenticated) context.status(401).headers({ 'www-authenticate': DAV_CHALLENGE });
      reqLog.info('refused', { method, path: url.pathname, status: context.status(), msg });
      // The body may be unread (a refused upload): answer, then close rather than reuse the socket.
      const body = String(context.outcome()?.value ?? '');
      res.writeHead(context.status(), { ...context.headers(), 'content-length': Buffer.byteLength(body), ...(req.complete ? {} : { connection: 'close' }) });
      res.end(body);
    }
  };
}

/**
 * The one adapter between HTTP and handlers: match the path, authenticate, validate,
 * call the handler with injected deps, map errors. Client errors answer 403 {msg},
 * everything else 503 {msg}; the status never comes from an error's code or text.
 */
export function toFaasHandler(fn: LoadedFunction, deps: Deps): FaasHandler {
  const { route } = fn;
  const gate = requestGate(route, deps);
  const handle = fn.handle as Handler<RouteDef>;
  const validateBody: Validator<unknown> | undefined = route.body && route.body !== 'ignored' ? compile(route.body as TSchema) : undefined;
  const log = deps.log.child({ component: route.name });

  return async (event: FunctionEvent, context: FunctionContext) => {
    const requestId = event.headers['x-request-id'] || uuid();
    // A child logger per request cost a handful of closures on every call; the request id goes in
    // the line's fields instead, and a child is made only for a failure's lines.
    const handled = route.schedule ? log.debug : log.info;
    context.headers({ 'x-request-id': requestId });
    try {
      const { params, principal } = await gate(event.method, event.path, event.headers.authorization);
      const body = route.body === 'ignored' ? undefined : parseBody(event.body, validateBody);
      const result = await handle({ params, query: event.query, headers: event.headers, body, principal, requestId }, deps);
      const reply = result instanceof Reply ? result : new Reply(result);
      context
        .status(reply.status ?? route.status ?? 200)
        .headers({ 'content-type': 'application/json', ...reply.headers })
        .succeed(Buffer.isBuffer(reply.body) || (typeof reply.body === 'string' && reply.headers['content-type']) ? reply.body : JSON.stringify(reply.body ?? ''));
      // Reconcilers run every few seconds: their routine passes would flood the log at info.
      handled('handled', { request_id: requestId, method: event.method, path: event.path, status: context.status() });
    } catch (err) {
      const reqLog = log.child({ request_id: requestId });
      const msg = answerError(err, context, reqLog, requestId);
      reqLog.info('refused', { method: event.method, path: event.path, status: context.status(), msg });
    }
  };
}

/**
 * The contract's error rule, in one place: ClientError -> 403, anything else -> 503, both {msg}.
 * On /data (`dav`), an outcome of the WebDAV protocol answers its RFC 4918 status, still with {msg}.
 */
export function answerError(err: unknown, context: FunctionContext, log: Logger, requestId: string, dav = false): string {
  if (isClientError(err)) {
    respond(context, dav && err instanceof WebDavStatus ? err.status : 403, err.message, err.code);
    return err.message;
  }
  // Faults the platform knows (Unavailable) keep their message; unexpected ones are not leaked.
  const known = err instanceof Unavailable;
  const msg = known ? err.message : `internal error (request ${requestId}); the platform logged the cause`;
  log.error('fault', { err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
  respond(context, 503, msg, known ? err.code : INTERNAL_CODE);
  return msg;
}

/** Every error answer: {msg}, the same in x-mlp-error, and the outcome's stable code in x-mlp-code. */
function respond(context: FunctionContext, status: number, msg: string, code: string): void {
  const body = errorBody(msg);
  context
    .status(status)
    .headers({ 'content-type': 'application/json', [ERROR_HEADER]: body, [CODE_HEADER]: code })
    .succeed(body);
}

function decodeParams(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
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
