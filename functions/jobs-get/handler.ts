import { queueOf } from '../../shared/jobs/queue-view.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { jobView } from '../../shared/records/jobs.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const job = await jobOrNotFound(deps, params.user ?? '', params.job ?? '');
  return jobView(job, await queueOf(deps, [job]));
};
