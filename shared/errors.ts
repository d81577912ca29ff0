// One error hierarchy for the whole platform. Handlers throw; only the HTTP
// adapter turns errors into responses: ClientError -> 403 {msg}, anything else -> 503 {msg};
// on /data alone, a WebDavStatus answers its own RFC 4918 status with the same {msg} body.

export class ClientError extends Error {
  override name = 'ClientError';
  /**
   * What happened, as a stable name code branches on (e.g. TCC_CONFIRMED); the message is for
   * people and may be reworded freely. Answered in the x-mlp-code header next to the {msg} body.
   */
  readonly code?: string;
  constructor(message?: string, opts?: { code?: string }) {
    super(message);
    if (opts?.code) this.code = opts.code;
  }
}

/** The caller may not do this (bad token, other user's objects, quota that can never fit). */
export class Forbidden extends ClientError {
  override name = 'Forbidden';
}

/** The request itself is malformed: not JSON, unknown or missing field, wrong type, pattern. */
export class Invalid extends ClientError {
  override name = 'Invalid';
}

export class NotFound extends ClientError {
  override name = 'NotFound';
}

/** Name taken, illegal state transition, a conditional update lost its race. */
export class Conflict extends ClientError {
  override name = 'Conflict';
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
  constructor(message: string) {
    super(404, message);
  }
}

/** 409: the folder above the resource does not exist (or is not a folder). */
export class ParentMissing extends WebDavStatus {
  override name = 'ParentMissing';
  constructor(message: string) {
    super(409, message);
  }
}

/** 405: the method cannot apply to this resource as it is (MKCOL where something exists). */
export class NotAllowedHere extends WebDavStatus {
  override name = 'NotAllowedHere';
  constructor(message: string) {
    super(405, message);
  }
}

/** 412: a precondition of the request failed (Overwrite: F onto an existing destination). */
export class PreconditionFailed extends WebDavStatus {
  override name = 'PreconditionFailed';
  constructor(message: string) {
    super(412, message);
  }
}

/** 415: a request body this method does not understand (MKCOL with a body). */
export class UnsupportedBody extends WebDavStatus {
  override name = 'UnsupportedBody';
  constructor(message: string) {
    super(415, message);
  }
}

/** 400: a request body that is not the XML the method takes (PROPFIND, PROPPATCH). */
export class MalformedBody extends WebDavStatus {
  override name = 'MalformedBody';
  constructor(message: string) {
    super(400, message);
  }
}

/** A dependency failed or is unreachable; the request may succeed later. */
export class Unavailable extends Error {
  override name = 'Unavailable';
}

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
