import { notFound } from '../../shared/datasets/lifecycle.js';
import { datasetId, datasetsCollection, datasetView } from '../../shared/records/datasets.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.name ?? '';
  const doc = await datasetsCollection(deps.store).get(datasetId(params.user ?? '', name));
  return doc ? datasetView(doc) : notFound(name);
};
