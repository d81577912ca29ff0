import { modelNotFound } from '../../shared/models/lifecycle.js';
import { modelId, modelsCollection, modelView } from '../../shared/records/models.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.model ?? '';
  const doc = await modelsCollection(deps.store).get(modelId(params.user ?? '', name));
  return doc ? modelView(doc) : modelNotFound(name);
};
