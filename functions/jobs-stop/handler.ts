import { jobOrNotFound } from '../../shared/jobs/find.js';
import { stopJob } from '../../shared/jobs/stop.js';
import { jobView } from '../../shared/records/jobs.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const job = await jobOrNotFound(deps, params.user ?? '', params.job ?? '');
  return jobView(await stopJob(deps, job._id, 'stopped by user'));
};
