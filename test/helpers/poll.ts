/** How often and how long `until` tries. */
export interface PollOptions {
  /** At most this many reads (600 unless told). */
  tries?: number;
  /** The pause between two reads, in milliseconds (50 unless told). */
  ms?: number;
  /** Runs before each read (a reconciler pass, an abort check); what it throws ends the wait. */
  before?: () => unknown;
}

/**
 * The tests' one poll: reads `read` until `done` holds of what it answers, and answers that;
 * after `tries` reads it throws, naming `what` and the last value seen. What `read` throws ends
 * the wait at once.
 */
export async function until<T>(read: () => T | Promise<T>, done: (v: T) => boolean, what: string, opts: PollOptions = {}): Promise<T> {
  let last: T | undefined;
  for (let i = 0; i < (opts.tries ?? 600); i++) {
    await opts.before?.();
    last = await read();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, opts.ms ?? 50));
  }
  throw new Error(`${what} never happened; last seen: ${JSON.stringify(last)}`);
}

/** `until` for a `check` that answers undefined until it has its answer: polls every `ms` (100 unless told), `tries` times. */
export async function untilAnswer<T>(what: string, check: () => Promise<T | undefined>, tries = 600, ms = 100): Promise<T> {
  return (await until(check, (v) => v !== undefined, what, { tries, ms })) as T;
}
