import type { Logger } from '../core/log.js';
import type { Orchestrator } from './port.js';

/**
 * One way to follow workloads for jobs and apps alike: a level-triggered pass at start, after
 * workload events of the Orchestrator port (coalesced: one pass runs, at most one waits) and,
 * if given, every `intervalMs`. The pass reads what it needs itself, so a missed event only
 * delays it until the next trigger.
 */
export function observeWorkloads(opts: { orchestrator: Orchestrator; log: Logger; what: string; pass: () => Promise<unknown>; intervalMs?: number }): { stop(): Promise<void> } {
  let stopped = false;
  let queued = false;
  let current: Promise<unknown> = Promise.resolve();
  const run = () => {
    if (stopped || queued) return;
    queued = true;
    current = current.then(async () => {
      queued = false;
      if (stopped) return;
      try {
        await opts.pass();
      } catch (err) {
        opts.log.error(`${opts.what} pass failed`, { err: (err as Error).message });
      }
    });
  };
  const unwatch = opts.orchestrator.watch(() => run());
  const timer = opts.intervalMs ? setInterval(run, opts.intervalMs) : undefined;
  run();
  return {
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      unwatch();
      await current;
    },
  };
}

/** Runs `fn` after every earlier call made with the same key has settled: passes never overlap in a process. */
export function serializeBy<K extends object, T>(chains: WeakMap<K, Promise<unknown>>, key: K, fn: () => Promise<T>): Promise<T> {
  const previous = chains.get(key) ?? Promise.resolve();
  const next = previous.then(fn, fn);
  chains.set(key, next);
  return next;
}
