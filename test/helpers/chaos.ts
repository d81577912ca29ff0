import { call, type Answer, type CallOptions } from './platform.js';

/** A seeded pseudo-random generator (mulberry32): the same seed replays the same moments. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed from MLP_TEST_SEED (to replay a failure), else a fresh one. */
export const testSeed = (): number => (process.env.MLP_TEST_SEED ? Number(process.env.MLP_TEST_SEED) : Math.floor(Math.random() * 2 ** 31));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A call that waits out a platform that is down or restarting (no answer: refused, reset) for up to
 * `outageMs`, and retries then. `retried` tells the caller that an earlier attempt may have been
 * done without its answer arriving (a create then answers "already exists").
 */
export async function callThrough(base: string, method: string, urlPath: string, opts: CallOptions = {}, outageMs = 180_000): Promise<Answer & { retried: boolean }> {
  const deadline = Date.now() + outageMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return { ...(await call(base, method, urlPath, opts)), retried: attempt > 0 };
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${method} ${urlPath}: no answer for ${outageMs / 1000} s: ${(err as Error).message}`);
      await sleep(200);
    }
  }
}
