/**
 * Token buckets by key (a job, a user, an address): each holds at most `burst` tokens and gains
 * `perSecond` of them as the injected clock moves, so a frozen clock in a test gives exact counts.
 * At most `maxKeys` buckets are kept; the least recently used go first (a forgotten bucket is a
 * full one, so forgetting only ever forgives).
 */
export interface RateLimiter {
  /** Whether the key has a token now (nothing is taken). */
  allows(key: string): boolean;
  /** Takes a token if there is one; false when the key is over its rate. */
  take(key: string): boolean;
  /** Whole seconds until the key has a token again (0 when it has one). */
  retryAfter(key: string): number;
}

export interface RateLimit {
  burst: number;
  perSecond: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export function createRateLimiter(limit: RateLimit & { now: () => Date; maxKeys?: number }): RateLimiter {
  const buckets = new Map<string, Bucket>();
  const maxKeys = limit.maxKeys ?? 10_000;

  const current = (key: string): Bucket => {
    const at = limit.now().getTime();
    const b = buckets.get(key);
    if (!b) return { tokens: limit.burst, at };
    // A clock that steps back gives nothing and takes nothing.
    const gained = (Math.max(0, at - b.at) / 1000) * limit.perSecond;
    return { tokens: Math.min(limit.burst, b.tokens + gained), at: Math.max(at, b.at) };
  };

  return {
    allows: (key) => current(key).tokens >= 1,
    take(key) {
      const b = current(key);
      if (b.tokens < 1) return false;
      b.tokens -= 1;
      // Re-inserted, so Map order is least recently used first.
      buckets.delete(key);
      buckets.set(key, b);
      while (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value as string);
      return true;
    },
    retryAfter(key) {
      const b = current(key);
      return b.tokens >= 1 ? 0 : Math.ceil((1 - b.tokens) / limit.perSecond);
    },
  };
}

/** One limiter per owner object (the process's Deps), made on first use. */
export function limiterPer<O extends object, L>(make: (owner: O) => L): (owner: O) => L {
  const made = new WeakMap<O, L>();
  return (owner) => {
    let l = made.get(owner);
    if (!l) made.set(owner, (l = make(owner)));
    return l;
  };
}
