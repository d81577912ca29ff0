import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/log.js';
import type { Bus, Subscription } from './port.js';

/**
 * Logouts and deactivations, announced so that whoever holds open streams (the metrics relay's
 * sockets) checks their tokens at once instead of at the next periodic check. The store stays the
 * truth: an announcement only says "look again at this user", so losing one delays a close by at
 * most one periodic check, and a repeat costs one more look.
 */
export const REVOCATIONS_TOPIC = 'mlp.revocations';

export interface Revocation {
  user: string;
  /** The token logged out; absent when the user was deactivated (every token). */
  jti?: string;
}

const ensured = new WeakMap<Bus, Promise<void>>();
const ensure = (bus: Bus): Promise<void> => {
  let done = ensured.get(bus);
  if (!done) {
    done = bus.ensureTopics([REVOCATIONS_TOPIC]);
    ensured.set(bus, done);
    done.catch(() => ensured.delete(bus));
  }
  return done;
};

/** Publishes after the store was changed. Never fails the request: the periodic check is the fallback. */
export async function announceRevocation(deps: { bus: Bus; log: Logger }, revocation: Revocation): Promise<void> {
  try {
    await ensure(deps.bus);
    await deps.bus.publish(REVOCATIONS_TOPIC, [{ key: revocation.user, value: JSON.stringify(revocation) }]);
  } catch (err) {
    deps.log.warn('a revocation was not announced; open streams see it at their next periodic check', { user: revocation.user, err: (err as Error).message });
  }
}

/**
 * Every listener sees every announcement (a consumer group of its own), from now on: what was
 * announced before it started is covered by the periodic check.
 */
export async function onRevocation(bus: Bus, handler: (r: Revocation) => Promise<void>, log: Logger): Promise<Subscription> {
  await ensure(bus);
  return bus.subscribe({ topic: REVOCATIONS_TOPIC, group: `mlp-revocations-${randomUUID()}`, fromBeginning: false }, async (msg) => {
    let r: Revocation;
    try {
      const parsed = JSON.parse(msg.value) as Partial<Revocation>;
      if (typeof parsed.user !== 'string') throw new Error('no user');
      r = { user: parsed.user, ...(typeof parsed.jti === 'string' ? { jti: parsed.jti } : {}) };
    } catch (err) {
      log.warn('dropped a malformed revocation', { offset: msg.offset, err: (err as Error).message });
      return;
    }
    await handler(r);
  });
}
