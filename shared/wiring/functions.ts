import type http from 'node:http';
import type { Config } from '../config/load.js';
import { createDeps, type Deps, type Overrides } from './deps.js';
import type { Runtimes } from '../runtimes/port.js';
import { scopeFunction, type Use } from './uses.js';
import type { LoadedFunction } from '../http/adapter.js';
import { createRouter } from '../http/router.js';
import { createFaasServer, type Dispatch } from '../http/server.js';
import { createUpgrader } from '../http/upgrade.js';
import type { Logger } from '../core/log.js';
import { exclusiveTrigger } from '../store/lease.js';

export interface Wired {
  deps: Deps;
  /** Serves the functions' routes, their WebSockets, /_/health and /_/ready; not yet listening. */
  server: http.Server;
  /**
   * Stops the always-on services, then serving (in-flight requests finish) alongside `also`,
   * then closes the dependencies: nothing a request or a service still uses closes under it.
   */
  close(also?: () => Promise<unknown>): Promise<void>;
}

/**
 * The wiring of functions into one HTTP server, the same for the function template
 * (templates/mlp-node20/index.ts, one function) and the local runner (scripts/local/platform.ts,
 * all of them): dependencies, one router, the server with its upgrades and readiness, the
 * always-on services. `around` lets the template put the cron trigger in front of the router;
 * `uses` builds only those ports (the template passes its route's, shared/wiring/uses.ts usesOf).
 */
export async function wireFunctions(
  fns: LoadedFunction[],
  config: Config,
  log: Logger,
  opts: { overrides: Overrides & { runtimes: Runtimes }; around?: (route: Dispatch, deps: Deps) => Dispatch; uses?: readonly Use[] },
): Promise<Wired> {
  const deps = await createDeps(config, log, opts.overrides, opts.uses);
  const services: { stop(): Promise<void> }[] = [];
  try {
    // Each function's code sees only the ports its route declares; the adapter keeps the whole.
    const scoped = fns.map((fn) => scopeFunction(fn, deps));
    const route = createRouter(scoped, deps);
    const dispatch = opts.around ? opts.around(route, deps) : route;
    const ready = deps.built.includes('store') ? () => deps.store.ping() : async () => undefined;
    const server = createFaasServer({ dispatch, log, ready, upgrade: createUpgrader(scoped, deps), ...(fns.length === 1 ? { identity: fns[0]?.route.name } : {}) });
    // Always-on parts (the metrics relay, the app watcher) start with the server and stop before the store closes.
    for (const fn of scoped) if (fn.service) services.push(await fn.service.start(deps));
    return {
      deps,
      server,
      async close(also) {
        for (const service of services) await service.stop();
        await Promise.all([stopServing(server), also?.()]);
        await deps.close();
      },
    };
  } catch (err) {
    for (const service of services) await service.stop();
    await deps.close();
    throw err;
  }
}

/**
 * A scheduled function's trigger under its lease in the store: a second trigger while one runs
 * (two cron deliveries, two replicas) answers 200 saying it skipped. OpenFaaS's cron-connector
 * invokes it with POST / and no token; a reconciler only enforces the platform's own rules and
 * is idempotent, so such a trigger is harmless and runs with the service token.
 */
export function withCronTrigger(fn: LoadedFunction, log: Logger): (route: Dispatch, deps: Deps) => Dispatch {
  return (route, deps) => {
    const scheduled = fn.route.schedule ? route(fn.route.method, fn.route.path).target : undefined;
    if (!scheduled || !('json' in scheduled)) return route;
    const trigger = exclusiveTrigger(fn.route.name, scheduled.json, { store: deps.store, now: deps.now, log });
    return (method, path) => {
      if (method === fn.route.method && path === fn.route.path) return { target: { json: trigger } };
      if (method !== 'POST' || path !== '/') return route(method, path);
      return { target: { json: (event) => trigger({ ...event, path: fn.route.path, headers: { ...event.headers, authorization: `Bearer ${deps.serviceToken}` } }) } };
    };
  };
}

/** Stops accepting, lets in-flight requests finish, then closes idle keep-alive sockets. */
export function stopServing(server: http.Server): Promise<void> {
  // Never listening (its port was taken, say): nothing to stop, and the start's own error stands.
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    server.closeIdleConnections();
  });
}
