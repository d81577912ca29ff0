import { Conflict } from '../../shared/errors.js';
import { modelNotFound } from '../../shared/models/lifecycle.js';
import { appsCollection } from '../../shared/repos/apps.js';
import { modelId, modelMachine, modelsCollection, modelView } from '../../shared/repos/models.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

/**
 * API.md §7: a model used by an app cannot be deleted. An app create racing this delete writes
 * its app first and then checks the model; this writes deleting first and then checks the apps,
 * so at least one of the two sees the other and backs off.
 */
export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const user = params.user ?? '';
  const name = params.model ?? '';
  const col = modelsCollection(deps.store);
  const usedBy = async () => (await appsCollection(deps.store).find({ user, model_name: name }, { limit: 1 }))[0];
  for (;;) {
    const doc = await col.get(modelId(user, name));
    if (!doc) modelNotFound(name);
    if (doc.state === 'deleting') return modelView(doc);
    if (!modelMachine.can(doc.state, 'delete')) throw new Conflict(`model ${name} is ${doc.state}; only ready or error models can be deleted`);
    const app = await usedBy();
    if (app) throw new Conflict(`model ${name} is used by app ${app.name}; delete the app first`);
    const next = await col.update(doc._id, { version: doc.version }, { set: { state: modelMachine.transition(doc.state, 'delete') } });
    if (!next) continue;
    const late = await usedBy();
    if (late) {
      // Not a transition of the model's machine: this delete never happened (it changed nothing else).
      await col.update(next._id, { version: next.version }, { set: { state: doc.state } });
      throw new Conflict(`model ${name} is used by app ${late.name}; delete the app first`);
    }
    // The models reconciler removes the files, releases the rom and then the record.
    return modelView(next);
  }
};
