// One error hierarchy for the whole platform. Handlers throw; only the HTTP
// adapter turns errors into responses: ClientError -> 403 {msg}, anything else -> 503 {msg};
// on /data alone, a WebDavStatus answers its own RFC 4918 status with the same {msg} body.

/**
 * Test-only: a rewrite applied to every message an error of this module is made with, so a test
 * can reword them all and show that no code decides by message text (test/errors/renamed.test.ts).
 * Products never set it; undefined leaves messages as written.
 */
let messageTransform: ((msg: string) => string) | undefined;
export function setMessageTransform(fn: ((msg: string) => string) | undefined): void {
  messageTransform = fn;
}
const worded = (msg: string | undefined): string | undefined => (msg !== undefined && messageTransform ? messageTransform(msg) : msg);

export class ClientError extends Error {
  override name = 'ClientError';
  /** The code of this class's outcomes, unless one is given when thrown. */
  static readonly CODE: string = 'CLIENT_ERROR';
  /**
   * What happened, as a stable name code branches on (e.g. NOT_FOUND, TCC_CONFIRMED); the message
   * is for people and may be reworded freely. Answered in the x-mlp-code header next to {msg}.
   */
  readonly code: string;
  constructor(message?: string, opts?: { code?: string }) {
    super(worded(message));
    this.code = opts?.code ?? (new.target as typeof ClientError).CODE;
  }
}

/** The caller may not do this (bad token, other user's objects, quota that can never fit). */
export class Forbidden extends ClientError {
  override name = 'Forbidden';
  static override readonly CODE: string = 'FORBIDDEN';
}

/** The request itself is malformed: not JSON, unknown or missing field, wrong type, pattern. */
export class Invalid extends ClientError {
  override name = 'Invalid';
  static override readonly CODE: string = 'INVALID';
}

export class NotFound extends ClientError {
  override name = 'NotFound';
  static override readonly CODE: string = 'NOT_FOUND';
}

/** Name taken, illegal state transition, a conditional update lost its race. */
export class Conflict extends ClientError {
  override name = 'Conflict';
  static override readonly CODE: string = 'CONFLICT';
}

/** A link where the platform takes only real folders and files: it is never followed. */
export class LinkRefused extends Forbidden {
  override name = 'LinkRefused';
  static override readonly CODE: string = 'LINK';
}

/** A token that no longer opens anything (invalid, expired, revoked, its user deactivated): a session ends. */
export class TokenInvalid extends Forbidden {
  override name = 'TokenInvalid';
  static override readonly CODE: string = 'TOKEN_INVALID';
}

/**
 * An outcome the WebDAV protocol itself decides (RFC 4918), as opposed to a rule of the platform:
 * on /data it answers `status` with {msg}; anywhere else it is a client error like any other (403).
 */
export class WebDavStatus extends ClientError {
  override name = 'WebDavStatus';
  constructor(
    readonly status: 400 | 404 | 405 | 409 | 412 | 415,
    message: string,
  ) {
    super(message);
  }
}

/** 404: the resource named does not exist. */
export class ResourceMissing extends WebDavStatus {
  override name = 'ResourceMissing';
  static override readonly CODE: string = 'NOT_FOUND';
  constructor(message: string) {
    super(404, message);
  }
}

/** 409: the folder above the resource does not exist (or is not a folder). */
export class ParentMissing extends WebDavStatus {
  override name = 'ParentMissing';
  static override readonly CODE: string = 'PARENT_MISSING';
  constructor(message: string) {
    super(409, message);
  }
}

/** 405: the method cannot apply to this resource as it is (MKCOL where something exists). */
export class NotAllowedHere extends WebDavStatus {
  override name = 'NotAllowedHere';
  static override readonly CODE: string = 'NOT_ALLOWED_HERE';
  constructor(message: string) {
    super(405, message);
  }
}

/** 412: a precondition of the request failed (Overwrite: F onto an existing destination). */
export class PreconditionFailed extends WebDavStatus {
  override name = 'PreconditionFailed';
  static override readonly CODE: string = 'PRECONDITION_FAILED';
  constructor(message: string) {
    super(412, message);
  }
}

/** 415: a request body this method does not understand (MKCOL with a body). */
export class UnsupportedBody extends WebDavStatus {
  override name = 'UnsupportedBody';
  static override readonly CODE: string = 'UNSUPPORTED_BODY';
  constructor(message: string) {
    super(415, message);
  }
}

/** 400: a request body that is not the XML the method takes (PROPFIND, PROPPATCH). */
export class MalformedBody extends WebDavStatus {
  override name = 'MalformedBody';
  static override readonly CODE: string = 'MALFORMED_BODY';
  constructor(message: string) {
    super(400, message);
  }
}

/** A dependency failed or is unreachable; the request may succeed later. */
export class Unavailable extends Error {
  override name = 'Unavailable';
  readonly code = 'UNAVAILABLE';
  constructor(message?: string, options?: ErrorOptions) {
    super(worded(message), options);
  }
}

/**
 * Files that changed while the platform copied them (a job still writing its ckpt/): the copy is
 * not kept. Told apart by its type; like an errno error it has no `code` of the platform's.
 */
export class SourceChanged extends Error {
  override name = 'SourceChanged';
  constructor(message: string) {
    super(worded(message));
  }
}

/** The code of a fault the platform did not expect (its message is not answered either). */
export const INTERNAL_CODE = 'INTERNAL';

/** Configuration that cannot work; start-up stops with this message. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export function isClientError(err: unknown): err is ClientError {
  return err instanceof ClientError;
}

/** Whether `err` is a client error of this outcome (by its code, never by its message). */
export function hasCode(err: unknown, code: string): err is ClientError {
  return err instanceof ClientError && err.code === code;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
