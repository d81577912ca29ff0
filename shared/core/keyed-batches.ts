/**
 * Runs items per key in batches: while one batch of a key runs, the items that arrive for that
 * key wait, and go together in the next batch (at most `max`, in arrival order); different keys
 * run freely. `run` answers one outcome per item, in the items' order; what it throws fails
 * every item of its batch. Batches of one key never overlap, so `run` may read, decide on all of
 * them and write once — a group commit.
 */
export function keyedBatches<I, R>(run: (key: string, items: I[]) => Promise<PromiseSettledResult<R>[]>, max = 100): (key: string, item: I) => Promise<R> {
  interface Waiting {
    item: I;
    resolve: (r: R) => void;
    reject: (err: unknown) => void;
  }
  const waiting = new Map<string, Waiting[]>();
  const running = new Set<string>();

  async function drain(key: string): Promise<void> {
    running.add(key);
    try {
      for (;;) {
        const queue = waiting.get(key);
        if (!queue?.length) {
          waiting.delete(key);
          return;
        }
        const batch = queue.splice(0, max);
        let outcomes: PromiseSettledResult<R>[];
        try {
          outcomes = await run(
            key,
            batch.map((w) => w.item),
          );
        } catch (err) {
          for (const w of batch) w.reject(err);
          continue;
        }
        batch.forEach((w, i) => {
          const o = outcomes[i];
          if (o?.status === 'fulfilled') w.resolve(o.value);
          else w.reject(o ? o.reason : new Error('the batch answered no outcome for this item'));
        });
      }
    } finally {
      // Reached with nothing waiting for the key (or after a throw that cannot come from run),
      // and with no await since that check, so no item arrived unseen.
      running.delete(key);
    }
  }

  return (key, item) =>
    new Promise<R>((resolve, reject) => {
      const queue = waiting.get(key) ?? [];
      waiting.set(key, queue);
      queue.push({ item, resolve, reject });
      if (!running.has(key)) void drain(key);
    });
}
