// One error hierarchy for the whole platform. Handlers throw; only the HTTP
// adapter turns errors into responses: ClientError -> 403 {msg}, anything else -> 503 {msg}.

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
