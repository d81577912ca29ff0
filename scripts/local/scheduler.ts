import type { Deps } from '../../shared/wiring/deps.js';
import { toEndpoint, type LoadedFunction } from '../../shared/http/adapter.js';
import { exclusiveTrigger } from '../../shared/store/lease.js';

/**
 * Runs the scheduled functions (reconcilers) on their intervals, through the same adapter
 * as a request would, with the service token. A run never overlaps the previous one, nor a pass
 * of another platform process on the same database (the lease of shared/store/lease.ts).
 */
export function startScheduler(fns: LoadedFunction[], deps: Deps): { stop(): Promise<void> } {
  const timers: NodeJS.Timeout[] = [];
  const running = new Set<Promise<void>>();
  for (const fn of fns) {
    const schedule = fn.route.schedule;
    if (!schedule) continue;
    // The embedded store belongs to this one process (its LOCK), where `busy` below already keeps
    // runs apart; a shared database takes the lease, at the cost of three writes a run.
    const direct = toEndpoint(fn, deps);
    const handler = deps.store.kind === 'embedded' ? direct : exclusiveTrigger(fn.route.name, direct, { store: deps.store, now: deps.now, log: deps.log });
    let busy = false;
    const tick = () => {
      if (busy) return;
      busy = true;
      const run = handler({ body: Buffer.alloc(0), headers: { authorization: `Bearer ${deps.serviceToken}` }, method: fn.route.method, query: {}, path: fn.route.path })
        .then((answer) => {
          if (answer.status !== 200) deps.log.error('scheduled run failed', { function: fn.route.name, status: answer.status, body: String(answer.body) });
        })
        .catch((err: unknown) => deps.log.error('scheduled run threw', { function: fn.route.name, err: (err as Error).message }))
        .finally(() => {
          busy = false;
          running.delete(run);
        });
      running.add(run);
    };
    timers.push(setInterval(tick, schedule.everySeconds * 1000));
  }
  return {
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.all(running);
    },
  };
}
