import { queueOf } from '../../shared/jobs/queue-view.js';
import { submitJob } from '../../shared/jobs/submit.js';
import { jobView } from '../../shared/records/jobs.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/** A job waits for resources or runs at once (shared/jobs/submit.ts); a waiting one says its queue place. */
export const handle: Handler<typeof route> = async ({ params, body }, deps) => {
  const created = await submitJob(deps, params.user ?? '', body);
  return jobView(created, await queueOf(deps, [created]));
};
