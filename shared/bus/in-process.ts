import type { Bus, Handled, Message, Outgoing, Subscription } from './port.js';
import { Unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';

/**
 * The local default Bus: one partition per topic kept in memory, one committed
 * offset per consumer group. Nothing survives a restart of the process, which is
 * fine for the single-process platform whose publishers die with it — except what a
 * subscriber with `awaitDurable` stores: publish() waits until each such subscriber has
 * handled the messages and their `durable` settled, so what was accepted is stored.
 */
/** How long publish() waits for an awaitDurable subscriber to store what it published. */
export const DURABLE_WAIT_MS = 15_000;

export function createInProcessBus(opts: { log: Logger; retryMs?: number; durableWaitMs?: number }): Bus {
  const topics = new Map<string, Message[]>();
  const committed = new Map<string, number>(); // `${group}\u0000${topic}` -> next offset
  const wakers = new Map<string, Set<() => void>>();
  /** Per topic, the awaitDurable subscriptions: publish() waits for each to settle what it published. */
  const settlers = new Map<string, Set<(first: number, last: number) => Promise<void>>>();
  const retryMs = opts.retryMs ?? 200;
  const durableWaitMs = opts.durableWaitMs ?? DURABLE_WAIT_MS;
  let closed = false;

  const log = (topic: string) => {
    let messages = topics.get(topic);
    if (!messages) topics.set(topic, (messages = []));
    return messages;
  };

  return {
    kind: 'in-process',
    async ensureTopics(names) {
      for (const name of names) log(name);
    },
    async publish(topic, messages: Outgoing[]) {
      if (closed) throw new Error('bus is closed');
      const target = log(topic);
      for (const m of messages) {
        target.push({ topic, key: m.key, value: m.value, headers: { ...(m.headers ?? {}) }, partition: 0, offset: String(target.length) });
      }
      for (const wake of wakers.get(topic) ?? []) wake();
      const [first, last] = [target.length - messages.length, target.length - 1];
      const waits = [...(settlers.get(topic) ?? [])].map((settled) => settled(first, last));
      if (waits.length === 0) return;
      // Bounded: with the store down the consumer retries for as long as it takes, and a caller
      // (a job's POST) must not hang meanwhile. The messages stay queued and are stored later.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Unavailable(
                `${messages.length === 1 ? 'the message was' : `the ${messages.length} messages were`} accepted but not stored within ${durableWaitMs / 1000} s (is the store down?); it stays queued, and sending it again is safe`,
              ),
            ),
          durableWaitMs,
        );
      });
      const all = Promise.all(waits);
      // Once the caller was answered (late), a later failure is the consumer's to log (the relay does).
      all.catch(() => undefined);
      try {
        await Promise.race([all, late]);
      } finally {
        clearTimeout(timer);
      }
    },
    async subscribe({ topic, group, fromBeginning, awaitDurable }, handler): Promise<Subscription> {
      const messages = log(topic);
      const slot = `${group}\u0000${topic}`;
      if (!committed.has(slot)) committed.set(slot, fromBeginning ? 0 : messages.length);
      let running = true;
      let wake: (() => void) | undefined;
      // awaitDurable: the durable of each handled message not yet stored, and publishers waiting for handling.
      const durables = new Map<number, Promise<void>>();
      const handledWaiters = new Set<{ offset: number; resolve: () => void }>();
      const holdUntilDurable = (offset: number, answer: Handled) => {
        const forget = () => void durables.delete(offset);
        durables.set(offset, answer.durable);
        answer.durable.then(forget, forget);
      };
      /**
       * Resolves once the messages first…last (one publish) were handled here and what they stored
       * is durable (rejects if that failed). Only their own: a handler may itself publish while
       * an earlier message's durable waits for it.
       */
      const settled = async (first: number, last: number): Promise<void> => {
        if ((committed.get(slot) ?? 0) <= last && running) {
          await new Promise<void>((resolve) => {
            const w = { offset: last, resolve: () => (handledWaiters.delete(w), resolve()) };
            handledWaiters.add(w);
          });
        }
        const own: Promise<void>[] = [];
        for (let o = first; o <= last; o++) {
          const d = durables.get(o);
          if (d) own.push(d);
        }
        await Promise.all(own);
      };
      if (awaitDurable) {
        const set = settlers.get(topic) ?? new Set();
        settlers.set(topic, set.add(settled));
      }
      const waiters = wakers.get(topic) ?? new Set();
      wakers.set(topic, waiters);
      const loop = (async () => {
        while (running) {
          const next = committed.get(slot) ?? 0;
          const msg = messages[next];
          if (!msg) {
            await new Promise<void>((resolve) => {
              wake = resolve;
              waiters.add(resolve);
            });
            if (wake) waiters.delete(wake);
            continue;
          }
          try {
            const answer = await handler(msg);
            if (awaitDurable && answer) holdUntilDurable(next, answer);
            committed.set(slot, next + 1);
            for (const w of [...handledWaiters]) if (w.offset <= next) w.resolve();
          } catch (err) {
            opts.log.error('bus handler failed; retrying', { topic, group, offset: msg.offset, err: (err as Error).message });
            await new Promise((r) => setTimeout(r, retryMs));
          }
        }
      })();
      return {
        async stop() {
          running = false;
          wake?.();
          await loop;
          settlers.get(topic)?.delete(settled);
          // Publishers waiting for messages this subscriber will not handle now: the bus keeps them for the next one.
          for (const w of [...handledWaiters]) w.resolve();
        },
      };
    },
    async close() {
      closed = true;
    },
  };
}
