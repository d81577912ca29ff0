import type { ServerResponse } from 'node:http';
import { DAV_CHALLENGE, Unauthenticated } from '../auth/principal.js';
import { INTERNAL_CODE, isClientError, Unavailable, WebDavStatus } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { CODE_HEADER, ERROR_HEADER, errorBody } from './error-header.js';

/** A whole answer, built before anything is written: every route and every refusal ends in one. */
export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

/**
 * The contract's error rule, the one place an error becomes an answer: ClientError -> 403,
 * anything else -> 503, both {msg} with the same text in x-mlp-error and the outcome's stable
 * code in x-mlp-code; the status never comes from an error's code or text. On /data (`dav`), an
 * outcome of the WebDAV protocol answers its RFC 4918 status, and no credentials at all a 401
 * challenge (docs/api.md#datasets: WebDAV clients send credentials only after one).
 */
export function errorAnswer(err: unknown, log: Logger, requestId: string, dav = false): Answer & { msg: string } {
  if (isClientError(err)) {
    const status = dav && err instanceof WebDavStatus ? err.status : dav && err instanceof Unauthenticated ? 401 : 403;
    const answer = build(status, err.message, err.code);
    if (status === 401) answer.headers['www-authenticate'] = DAV_CHALLENGE;
    return answer;
  }
  // Faults the platform knows (Unavailable) keep their message; unexpected ones are not leaked.
  const known = err instanceof Unavailable;
  const msg = known ? err.message : `internal error (request ${requestId}); the platform logged the cause`;
  log.error('fault', { err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
  return build(503, msg, known ? err.code : INTERNAL_CODE);
}

function build(status: number, msg: string, code: string): Answer & { msg: string } {
  const body = errorBody(msg);
  return { status, msg, body, headers: { 'content-type': 'application/json', [ERROR_HEADER]: body, [CODE_HEADER]: code } };
}

/** Writes an answer in one go (headers and body leave in one write); `extra` adds headers such as x-request-id. */
export function writeAnswer(res: ServerResponse, answer: Answer, extra?: Record<string, string>): void {
  const headers: Record<string, string | number> = extra ? { ...answer.headers, ...extra } : { ...answer.headers };
  headers['content-length'] = Buffer.byteLength(answer.body);
  res.writeHead(answer.status, headers);
  res.end(answer.body);
}

const REASONS: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 503: 'Service Unavailable' };

/**
 * The same answer as HTTP/1.1 text, for a socket no ServerResponse owns (a request Node's parser
 * refused, a refused WebSocket upgrade); the connection closes after it.
 */
export function rawAnswer(answer: Answer, extra: Record<string, string> = {}): string {
  const body = answer.body.toString();
  const lines = [`HTTP/1.1 ${answer.status} ${REASONS[answer.status] ?? 'Error'}`];
  for (const [name, value] of Object.entries({ ...answer.headers, ...extra })) lines.push(`${name}: ${value}`);
  lines.push(`content-length: ${Buffer.byteLength(body)}`, 'connection: close');
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
