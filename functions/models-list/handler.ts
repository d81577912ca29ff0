import { listPage, userListPath } from '../../shared/http/paging.js';
import { modelsCollection, modelView } from '../../shared/records/models.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/** The whole list, or one page of it with `?limit=` and `?after=` (shared/http/paging.ts). */
export const handle: Handler<typeof route> = async ({ params, query }, deps) => {
  const user = params.user ?? '';
  return listPage(modelsCollection(deps.store), { user }, query, userListPath(user, 'models'), modelView);
};
