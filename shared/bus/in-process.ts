import type { Bus, Message, Outgoing, Subscription } from './port.js';
import type { Logger } from '../core/log.js';

/**
 * The local default Bus: one partition per topic kept in memory, one committed
 * offset per consumer group. Nothing survives a restart of the process, which is
 * fine for the single-process platform whose publishers die with it.
 */
export function createInProcessBus(opts: { log: Logger; retryMs?: number }): Bus {
  const topics = new Map<string, Message[]>();
  const committed = new Map<string, number>(); // `${group}\u0000${topic}` -> next offset
  const wakers = new Map<string, Set<() => void>>();
  const retryMs = opts.retryMs ?? 200;
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
    },
    async subscribe({ topic, group, fromBeginning }, handler): Promise<Subscription> {
      const messages = log(topic);
      const slot = `${group}\u0000${topic}`;
      if (!committed.has(slot)) committed.set(slot, fromBeginning ? 0 : messages.length);
      let running = true;
      let wake: (() => void) | undefined;
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
            await handler(msg);
            committed.set(slot, next + 1);
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
        },
      };
    },
    async close() {
      closed = true;
    },
  };
}
