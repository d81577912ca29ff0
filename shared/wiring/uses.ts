import type { Deps } from './deps.js';
import type { LoadedFunction } from '../http/adapter.js';
import type { AuthMode } from '../routes/route.js';

/**
 * What a route may declare it uses (`uses` in functions/<name>/route.ts): a function process builds
 * only these (shared/wiring/deps.ts), and its handler, upgrade and service see only these (scopeDeps).
 * The rest of Deps (configuration, log, clock, tokens, authentication, addresses) is always there.
 */
export type Use = 'store' | 'bus' | 'orchestrator' | 'resources';
export const USES: readonly Use[] = ['store', 'bus', 'orchestrator', 'resources'];

/** The Deps fields behind each use. */
export const FIELDS_OF_USE: Record<Use, readonly (keyof Deps)[]> = {
  store: ['store', 'users'],
  bus: ['bus'],
  // Jobs' confinement and Python environments matter only to what starts jobs.
  orchestrator: ['orchestrator', 'jobSandbox', 'jobLimits', 'pythonEnvs'],
  // The tenant's ledger and the client that reserves in it.
  resources: ['resources', 'tcc'],
};

const USE_OF_FIELD = new Map<string, Use>(USES.flatMap((use) => FIELDS_OF_USE[use].map((field) => [field as string, use] as const)));

/** Authentication reads the user's record (active, token not revoked) for these modes: they need the store. */
const READS_USERS: ReadonlySet<AuthMode> = new Set(['basic', 'owner', 'user', 'owner-or-job']);

/** What a function process must build: what its route declares, plus the store when its auth mode reads users; the ledger lives in the store. */
export function usesOf(route: { uses?: readonly Use[]; auth: AuthMode }): Use[] {
  const uses = new Set<Use>(route.uses ?? []);
  if (READS_USERS.has(route.auth) || uses.has('resources')) uses.add('store');
  return USES.filter((u) => uses.has(u));
}

/**
 * The Deps a function's code gets: a field of a use its route does not declare throws, naming the
 * route file to fix, so a handler that reaches further than its declaration fails every test that
 * runs it (the contract runs every route through scripts/local/platform.ts, whose wiring scopes each function).
 */
export function scopeDeps(deps: Deps, route: { name: string; uses?: readonly Use[] }): Deps {
  // One view per deps and route, so what modules keep per Deps object (rate limiters, serialized
  // passes: shared/core/rate-limit.ts limiterPer) stays one per function however often it is asked.
  let byRoute = views.get(deps);
  if (!byRoute) views.set(deps, (byRoute = new WeakMap()));
  const known = byRoute.get(route);
  if (known) return known;
  const declared = new Set<Use>(route.uses ?? []);
  const view = new Proxy(deps, {
    get(target, key, receiver) {
      const use = typeof key === 'string' ? USE_OF_FIELD.get(key) : undefined;
      if (use && !declared.has(use)) throw new Error(`functions/${route.name}/route.ts does not declare uses: ['${use}'], yet its code reads deps.${String(key)}`);
      return Reflect.get(target, key, receiver);
    },
  });
  byRoute.set(route, view);
  return view;
}

const views = new WeakMap<Deps, WeakMap<object, Deps>>();

/** The function with its handler, upgrade and service given the scoped Deps instead of the whole. */
export function scopeFunction(fn: LoadedFunction, deps: Deps): LoadedFunction {
  const view = scopeDeps(deps, fn.route);
  const handle = fn.handle as (input: unknown, deps: Deps) => Promise<unknown>;
  const { upgrade, service } = fn;
  return {
    route: fn.route,
    handle: ((input: unknown) => handle(input, view)) as LoadedFunction['handle'],
    ...(upgrade ? { upgrade: (input) => upgrade(input, view) } : {}),
    ...(service ? { service: { start: () => service.start(view) } } : {}),
  };
}
