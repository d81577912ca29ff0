import { Conflict } from '../../shared/errors.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { releaseJob } from '../../shared/jobs/lifecycle.js';
import { jobsCollection, jobView } from '../../shared/repos/jobs.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.job ?? '';
  const col = jobsCollection(deps.store);
  for (;;) {
    const job = await jobOrNotFound(deps, params.user ?? '', name);
    if (job.state !== 'creating' && job.state !== 'running') throw new Conflict(`job ${name} is ${job.state}; only creating or running jobs can be stopped`);
    // A queued job leaves the queue; a running one is stopped and gives its resources back.
    const stopped = await col.update(
      job._id,
      { version: job.version, state: job.state },
      { set: { state: 'error', msg: 'stopped by user', ...(job.res === 'waiting' ? { res: 'none' as const } : {}) } },
    );
    if (!stopped) continue;
    if (stopped.res === 'held') await releaseJob(stopped, deps);
    return jobView((await col.get(job._id)) ?? stopped);
  }
};
