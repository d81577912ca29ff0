import { Conflict } from '../../shared/core/errors.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { ENDED, jobsCollection, jobView } from '../../shared/records/jobs.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.job ?? '';
  for (;;) {
    const job = await jobOrNotFound(deps, params.user ?? '', name);
    if (job.state === 'deleting') return jobView(job);
    if (!ENDED.includes(job.state)) throw new Conflict(`job ${name} is ${job.state}; only finished or error jobs can be deleted`);
    const next = await jobsCollection(deps.store).update(job._id, { version: job.version }, { set: { state: 'deleting' } });
    if (next) return jobView(next);
  }
};
