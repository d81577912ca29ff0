import type { Deps } from '../deps.js';
import { Invalid } from '../errors.js';
import type { LoadedFunction } from './adapter.js';
import { toFaasHandler, toRawHandler } from './adapter.js';
import type { Dispatch, Target } from './server.js';
import { compilePath, type PathPattern } from './path-pattern.js';

/** Routes many functions in one process (the local runner), each through its own adapter. */
export function createRouter(fns: LoadedFunction[], deps: Deps): Dispatch {
  assertNoDuplicates(fns);
  const table = fns.map((fn) => ({
    method: fn.route.method,
    pattern: compilePath(fn.route.path),
    handler: (fn.route.stream ? { raw: toRawHandler(fn, deps) } : toFaasHandler(fn, deps)) as Target,
  }));
  return (method, path) => {
    const onPath = table.filter((r) => r.pattern.regex.test(path));
    const hit = onPath.find((r) => r.method === method || r.method === 'ANY');
    if (hit) return hit.handler;
    if (onPath.length > 0) throw new Invalid(`method ${method} is not allowed on ${path}; use ${onPath.map((r) => r.method).join(' or ')}`);
    throw new Invalid(`no route ${method} ${path}`);
  };
}

/** Two routes with the same method and path shape are an error (at generation and at start). */
export function assertNoDuplicates(fns: { route: { name: string; method: string; path: string } }[]): void {
  const seen = new Map<string, string>();
  const names = new Set<string>();
  for (const { route } of fns) {
    if (names.has(route.name)) throw new Error(`two functions are named ${route.name}`);
    names.add(route.name);
    const path = shapeOf(compilePath(route.path));
    // 'ANY' serves every method, so it clashes with any route on the same path shape.
    const clash = [`${route.method} ${path}`, `ANY ${path}`, ...(route.method === 'ANY' ? [...seen.keys()].filter((k) => k.endsWith(` ${path}`)) : [])].map((k) => seen.get(k)).find(Boolean);
    if (clash) throw new Error(`routes ${clash} and ${route.name} both serve ${route.method} ${route.path}`);
    seen.set(`${route.method} ${path}`, route.name);
  }
}

function shapeOf(pattern: PathPattern): string {
  return pattern.regex.source;
}
