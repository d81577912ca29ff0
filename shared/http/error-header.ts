/**
 * How an error answer is written, in one place. The body is {msg} as ASCII-only JSON (\u escapes),
 * so the same text also fits the x-mlp-error header, which the Nginx gateway answers with when an
 * auth_request subrequest refuses a token; a header may hold ASCII only.
 */
export const ERROR_HEADER = 'x-mlp-error';

/**
 * A client error's stable code (ClientError.code), answered next to its {msg} body, so a caller
 * across HTTP branches on the outcome as one in the same process does, never on the message.
 */
export const CODE_HEADER = 'x-mlp-code';

/** The {msg} body, ASCII-only: also the x-mlp-error header's value. */
export function errorBody(msg: string): string {
  return JSON.stringify({ msg }).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const REASONS: Record<number, string> = { 403: 'Forbidden', 503: 'Service Unavailable' };

/**
 * A whole HTTP/1.1 error answer for a socket no ServerResponse owns (a request Node's parser
 * refused, a refused WebSocket upgrade); the connection closes after it.
 */
export function rawErrorAnswer(status: 403 | 503, msg: string, headers: Record<string, string> = {}): string {
  const body = errorBody(msg);
  const lines = [`HTTP/1.1 ${status} ${REASONS[status]}`, 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  lines.push(`${ERROR_HEADER}: ${body}`, 'connection: close');
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}
