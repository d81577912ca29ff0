import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { LoadedFunction } from '../http/adapter.js';
import type { Handler, RouteDef, Service, UpgradeHandler } from './route.js';

/** The functions folder beside shared/, both in the source tree (tsx) and in dist/. */
export const FUNCTIONS_DIR = fileURLToPath(new URL('../../functions/', import.meta.url));

/** The route registry: every functions/* folder with a route.ts, loaded with its handler. */
export async function loadFunctions(dir = FUNCTIONS_DIR): Promise<LoadedFunction[]> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  return Promise.all(names.map((name) => loadFunction(name, dir)));
}

export async function loadFunction(name: string, dir = FUNCTIONS_DIR): Promise<LoadedFunction> {
  const routeModule = (await import(new URL(`${name}/route.js`, `file://${dir}`).href)) as RouteModule;
  const handlerModule = (await import(new URL(`${name}/handler.js`, `file://${dir}`).href)) as HandlerModule;
  return checkedFunction(name, routeModule, handlerModule);
}

export type RouteModule = { default: RouteDef };
export type HandlerModule = { handle: Handler<RouteDef>; upgrade?: UpgradeHandler; service?: Service };

/** A function from its two modules, however they were imported (by name above, or statically in a bundle: scripts/bundle-functions.mjs). */
export function checkedFunction(name: string, routeModule: RouteModule, handlerModule: HandlerModule): LoadedFunction {
  const route = routeModule.default;
  if (!route || route.name !== name) throw new Error(`functions/${name}/route.ts must export default defineRoute({ name: '${name}', ... })`);
  if (typeof handlerModule.handle !== 'function') throw new Error(`functions/${name}/handler.ts must export const handle`);
  return { route, handle: handlerModule.handle, ...(handlerModule.upgrade ? { upgrade: handlerModule.upgrade } : {}), ...(handlerModule.service ? { service: handlerModule.service } : {}) };
}
