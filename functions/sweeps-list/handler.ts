import { listPage, userListPath } from '../../shared/paging.js';
import { sweepsCollection, sweepView } from '../../shared/repos/sweeps.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

/** The whole list, or one page of it with `?limit=` and `?after=` (shared/paging.ts). */
export const handle: Handler<typeof route> = async ({ params, query }, deps) => {
  const user = params.user ?? '';
  return listPage(sweepsCollection(deps.store), { user }, query, userListPath(user, 'sweeps'), sweepView);
};
