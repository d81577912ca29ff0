import { v4 as uuid } from 'uuid';
import type { Deps } from '../deps.js';
import { Invalid, isClientError, Unavailable } from '../errors.js';
import type { Logger } from '../log.js';
import { Reply, type Handler, type RouteDef } from '../route.js';
import { compile, DEFAULT_PATTERN, type Validator } from '../validation.js';
import type { TSchema } from '@sinclair/typebox';
import type { FaasHandler, FunctionContext, FunctionEvent } from './faas.js';
import { compilePath } from './path-pattern.js';

export interface LoadedFunction {
  route: RouteDef;
  handle: Handler<RouteDef>;
}

/**
 * The one adapter between HTTP and handlers: match the path, authenticate, validate,
 * call the handler with injected deps, map errors. Client errors answer 403 {msg},
 * everything else 503 {msg}; the status never comes from an error's code or text.
 */
export function toFaasHandler(fn: LoadedFunction, deps: Deps): FaasHandler {
  const { route } = fn;
  const pattern = compilePath(route.path);
  const paramChecks = pattern.params.map((name) => {
    const source = route.params?.[name] ?? DEFAULT_PATTERN;
    return { name, source, regex: new RegExp(source) };
  });
  const validateBody: Validator<unknown> | undefined = route.body && route.body !== 'ignored' ? compile(route.body as TSchema) : undefined;
  const log = deps.log.child({ component: route.name });

  return async (event: FunctionEvent, context: FunctionContext) => {
    const requestId = event.headers['x-request-id'] || uuid();
    const reqLog = log.child({ request_id: requestId });
    context.headers({ 'x-request-id': requestId });
    try {
      const raw = pattern.match(event.path);
      if (!raw || event.method !== route.method) throw new Invalid(`no route ${event.method} ${event.path}`);
      const params = decodeParams(raw);
      const principal = await deps.auth.authenticate(route.auth, { authorization: event.headers.authorization }, params);
      for (const check of paramChecks) {
        if (!check.regex.test(params[check.name] ?? '')) {
          throw new Invalid(`${check.name} "${params[check.name] ?? ''}" must match ${check.source}`);
        }
      }
      const body = route.body === 'ignored' ? undefined : parseBody(event.body, validateBody);
      const result = await fn.handle({ params, query: event.query, headers: event.headers, body, principal, requestId }, deps);
      const reply = result instanceof Reply ? result : new Reply(result);
      context
        .status(reply.status ?? route.status ?? 200)
        .headers({ 'content-type': 'application/json', ...reply.headers })
        .succeed(typeof reply.body === 'string' && reply.headers['content-type'] ? reply.body : JSON.stringify(reply.body ?? ''));
      reqLog.info('handled', { method: event.method, path: event.path, status: context.status() });
    } catch (err) {
      const msg = answerError(err, context, reqLog, requestId);
      reqLog.info('refused', { method: event.method, path: event.path, status: context.status(), msg });
    }
  };
}

/** The contract's error rule, in one place: ClientError -> 403, anything else -> 503, both {msg}. */
export function answerError(err: unknown, context: FunctionContext, log: Logger, requestId: string): string {
  if (isClientError(err)) {
    respond(context, 403, err.message);
    return err.message;
  }
  // Faults the platform knows (Unavailable) keep their message; unexpected ones are not leaked.
  const msg = err instanceof Unavailable ? err.message : `internal error (request ${requestId}); the platform logged the cause`;
  log.error('fault', { err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
  respond(context, 503, msg);
  return msg;
}

function respond(context: FunctionContext, status: number, msg: string): void {
  // ASCII-only JSON (\u escapes), so the same body also fits the x-mlp-error header, which the
  // Nginx gateway answers with when an auth_request subrequest refuses a token.
  const body = JSON.stringify({ msg }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  context.status(status).headers({ 'content-type': 'application/json', 'x-mlp-error': body }).succeed(body);
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
