import { modelsCollection, modelView } from '../../shared/repos/models.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => (await modelsCollection(deps.store).find({ user: params.user ?? '' })).map(modelView);
