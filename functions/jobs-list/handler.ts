import { queueOf } from '../../shared/jobs/queue-view.js';
import { listPage, userListPath } from '../../shared/http/paging.js';
import { jobsCollection, jobView } from '../../shared/records/jobs.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/** The whole list, or one page of it with `?limit=` and `?after=` (shared/http/paging.ts); waiting jobs carry their queue place. */
export const handle: Handler<typeof route> = async ({ params, query }, deps) => {
  const user = params.user ?? '';
  const col = jobsCollection(deps.store);
  const queue = await queueOf(deps, await col.find({ user, state: 'creating', res: { $in: ['waiting', 'trying'] } }));
  return listPage(col, { user }, query, userListPath(user, 'jobs'), (j) => jobView(j, queue));
};
