import { appNotFound } from '../../shared/apps/endpoint.js';
import { appId, appsCollection, appView } from '../../shared/records/apps.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.app ?? '';
  const doc = await appsCollection(deps.store).get(appId(params.user ?? '', name));
  return doc ? appView(doc, deps.appGateway.url) : appNotFound(name);
};
