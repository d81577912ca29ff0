/** Runs callers with the same key one at a time, in arrival order; different keys run freely. */
export function keyedMutex(): <R>(key: string, work: () => Promise<R>) => Promise<R> {
  const tails = new Map<string, Promise<void>>();
  return async (key, work) => {
    const before = tails.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    tails.set(key, mine);
    try {
      await before;
      return await work();
    } finally {
      done();
      if (tails.get(key) === mine) tails.delete(key);
    }
  };
}
