import { createRateLimiter, limiterPer, type RateLimiter } from '../../shared/core/rate-limit.js';

/**
 * Token requests per requested user name, existing or not (so the bound says nothing about
 * existence): a burst, then one every 3 s. Bounds password guessing against one account.
 */
export const TRIES_PER_USER = { burst: 10, perSecond: 1 / 3 };

/**
 * Token requests per client address: many names from one place. The address is the gateway's
 * X-Real-IP (Nginx sets it from the connection); without it every client counts as one, which
 * locally is the truth (the platform listens on 127.0.0.1).
 */
export const TRIES_PER_ADDRESS = { burst: 60, perSecond: 2 };

export const tokenLimits = limiterPer((deps: { now: () => Date }): { users: RateLimiter; addresses: RateLimiter } => ({
  users: createRateLimiter({ ...TRIES_PER_USER, now: deps.now }),
  addresses: createRateLimiter({ ...TRIES_PER_ADDRESS, now: deps.now }),
}));

export function clientAddress(headers: Record<string, string | undefined>): string {
  return headers['x-real-ip']?.trim() || 'direct';
}
