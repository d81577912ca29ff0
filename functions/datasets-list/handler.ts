import { datasetsCollection, datasetView } from '../../shared/repos/datasets.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => (await datasetsCollection(deps.store).find({ user: params.user ?? '' })).map(datasetView);
