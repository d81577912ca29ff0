import type { Deps } from '../wiring/deps.js';
import { Invalid } from '../core/errors.js';
import type { LoadedFunction } from './adapter.js';
import { toEndpoint, toRawHandler } from './adapter.js';
import { compileRoute } from './compiled-route.js';
import type { Dispatch, Target } from './server.js';

interface Entry {
  method: string;
  regex: RegExp;
  params: string[];
  target: Target;
}

/**
 * Routes functions to their adapters: each path is matched once, by the route of the request's
 * method (or an 'ANY' route), and its parameters are handed to the adapter; only a request no
 * route takes looks at the other methods, to say which are allowed.
 */
export function createRouter(fns: LoadedFunction[], deps: Deps): Dispatch {
  assertNoDuplicates(fns);
  const byMethod = new Map<string, Entry[]>();
  const all: Entry[] = [];
  for (const fn of fns) {
    const { pattern } = compileRoute(fn.route);
    const entry: Entry = { method: fn.route.method, regex: pattern.regex, params: pattern.params, target: fn.route.stream ? { raw: toRawHandler(fn, deps) } : { json: toEndpoint(fn, deps) } };
    all.push(entry);
    const list = byMethod.get(entry.method) ?? [];
    list.push(entry);
    byMethod.set(entry.method, list);
  }
  const any = byMethod.get('ANY') ?? [];
  return (method, path) => {
    for (const list of [byMethod.get(method), any]) {
      if (!list) continue;
      for (const entry of list) {
        const m = entry.regex.exec(path);
        if (!m) continue;
        const params: Record<string, string> = {};
        for (let i = 0; i < entry.params.length; i++) params[entry.params[i] as string] = m[i + 1] ?? '';
        return { target: entry.target, params };
      }
    }
    const onPath = all.filter((r) => r.regex.test(path));
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
    const path = compileRoute(route).pattern.regex.source;
    // 'ANY' serves every method, so it clashes with any route on the same path shape.
    const clash = [`${route.method} ${path}`, `ANY ${path}`, ...(route.method === 'ANY' ? [...seen.keys()].filter((k) => k.endsWith(` ${path}`)) : [])].map((k) => seen.get(k)).find(Boolean);
    if (clash) throw new Error(`routes ${clash} and ${route.name} both serve ${route.method} ${route.path}`);
    seen.set(`${route.method} ${path}`, route.name);
  }
}
