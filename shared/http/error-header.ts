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
