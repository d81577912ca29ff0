import { bumpCheckEpoch } from '../../shared/apps/check-epochs.js';
import { appNotFound } from '../../shared/apps/endpoint.js';
import { appMachine } from '../../shared/apps/lifecycle.js';
import { Conflict } from '../../shared/core/errors.js';
import { type AppDoc, appId, appsCollection, appView } from '../../shared/records/apps.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.app ?? '';
  const col = appsCollection(deps.store);
  const toDeleting = (doc: AppDoc) => {
    if (!appMachine.can(doc.state, 'delete')) throw new Conflict(`app ${name} is ${doc.state}; only ready or error apps can be deleted`);
    return col.update(doc._id, { version: doc.version }, { set: { state: appMachine.transition(doc.state, 'delete') } });
  };
  for (;;) {
    const doc = await col.get(appId(params.user ?? '', name));
    if (!doc) appNotFound(name);
    // A repeated delete answers the same (idempotent), and tells the gateway again in case the first could not.
    const deleting = doc.state === 'deleting' ? doc : await toDeleting(doc);
    if (!deleting) continue;
    // The Nginx app gateway keeps checks' answers per user epoch: none naming this app is used again.
    await bumpCheckEpoch(deps.config.root, deleting.user, `app ${name} is deleting`);
    return appView(deleting, deps.appGateway.url);
  }
};
