import { appNotFound } from '../../shared/apps/endpoint.js';
import { appMachine } from '../../shared/apps/lifecycle.js';
import { Conflict } from '../../shared/core/errors.js';
import { appId, appsCollection, appView } from '../../shared/records/apps.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.app ?? '';
  const col = appsCollection(deps.store);
  for (;;) {
    const doc = await col.get(appId(params.user ?? '', name));
    if (!doc) appNotFound(name);
    if (doc.state === 'deleting') return appView(doc, deps.appGateway.url); // a repeated delete answers the same: idempotent
    if (!appMachine.can(doc.state, 'delete')) throw new Conflict(`app ${name} is ${doc.state}; only ready or error apps can be deleted`);
    const next = await col.update(doc._id, { version: doc.version }, { set: { state: appMachine.transition(doc.state, 'delete') } });
    if (next) return appView(next, deps.appGateway.url);
  }
};
