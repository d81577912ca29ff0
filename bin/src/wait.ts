/** Polls `read` until the object leaves `creating` (models and apps become ready or error on their own). */
export async function waitSettled<T extends { state: string }>(read: () => Promise<T>, opts: { intervalMs?: number; timeoutMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  for (;;) {
    const current = await read();
    if (current.state !== 'creating') return current;
    if (Date.now() > deadline) throw new Error(`still creating after ${Math.round((opts.timeoutMs ?? 300_000) / 1000)} s; check later with ls`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
  }
}
