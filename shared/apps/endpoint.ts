import type { Deps } from '../wiring/deps.js';
import { Conflict, NotFound } from '../core/errors.js';
import { appId, appsCollection, type AppDoc } from '../records/apps.js';

export function appNotFound(name: string): never {
  throw new NotFound(`app ${name} not found`);
}

/** Where the app gateway sends a request for this app: only a ready app serves (docs/api.md#applications). */
export async function readyApp(deps: Deps, user: string, name: string): Promise<{ app: AppDoc; upstream: string }> {
  const app = await appsCollection(deps.store).get(appId(user, name));
  if (!app) appNotFound(name);
  if (app.state !== 'ready') throw new Conflict(`app ${name} is ${app.state}; it serves once it is ready`);
  return { app, upstream: deps.orchestrator.endpoint(app.uid, app.port) };
}
