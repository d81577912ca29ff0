import { Conflict } from '../../shared/core/errors.js';
import { modelNotFound } from '../../shared/models/lifecycle.js';
import { appsCollection } from '../../shared/records/apps.js';
import { modelId, modelMachine, modelsCollection, modelView } from '../../shared/records/models.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/**
 * docs/api.md#models: a model used by an app cannot be deleted. The state is written on the version read
 * before the apps were checked, and an app create writes the model (used_at) after writing its
 * app: so either this write fails and the next turn sees the app, or the create sees the model
 * deleting and backs off. Nothing is written that has to be undone.
 */
export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const user = params.user ?? '';
  const name = params.model ?? '';
  const col = modelsCollection(deps.store);
  for (;;) {
    const doc = await col.get(modelId(user, name));
    if (!doc) modelNotFound(name);
    if (doc.state === 'deleting') return modelView(doc);
    if (!modelMachine.can(doc.state, 'delete')) throw new Conflict(`model ${name} is ${doc.state}; only ready or error models can be deleted`);
    const app = (await appsCollection(deps.store).find({ user, model_name: name }, { limit: 1 }))[0];
    if (app) throw new Conflict(`model ${name} is used by app ${app.name}; delete the app first`);
    const next = await col.update(doc._id, { version: doc.version }, { set: { state: modelMachine.transition(doc.state, 'delete') } });
    // The models reconciler removes the files, releases the rom and then the record.
    if (next) return modelView(next);
  }
};
