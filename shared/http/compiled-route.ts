import { isDavPath } from '../auth/principal.js';
import type { RouteDef } from '../routes/route.js';
import { DEFAULT_PATTERN } from '../core/validation.js';
import { compilePath, type PathPattern } from './path-pattern.js';

/** What a route's path becomes once: its pattern, the checks of its parameters, whether it is WebDAV. */
export interface CompiledRoute {
  pattern: PathPattern;
  checks: { name: string; source: string; regex: RegExp }[];
  /** docs/api.md#datasets: on /data, Basic with the username and an API token is accepted as the Bearer token is. */
  dav: boolean;
}

// Keyed by the route object: the router, the adapter, the upgrader and the duplicate check all
// share one compilation per route however many of them ask.
const compiled = new WeakMap<object, CompiledRoute>();

export function compileRoute(route: Pick<RouteDef, 'path' | 'params'>): CompiledRoute {
  let hit = compiled.get(route);
  if (!hit) {
    const pattern = compilePath(route.path);
    const checks = pattern.params.map((name) => {
      const source = route.params?.[name] ?? DEFAULT_PATTERN;
      return { name, source, regex: new RegExp(source) };
    });
    hit = { pattern, checks, dav: isDavPath(route.path) };
    compiled.set(route, hit);
  }
  return hit;
}
