import type { Deps } from '../wiring/deps.js';
import { Conflict } from '../core/errors.js';
import { jobsCollection, type JobDoc } from '../records/jobs.js';
import { releaseJob } from './lifecycle.js';

/**
 * Stops a creating or running job: it ends in error with `msg` ("stopped by user", or a sweep's
 * reason); a queued one leaves the queue, a running one is stopped and gives its resources back.
 * Returns the job as it is after; throws Conflict if it had ended already.
 */
export async function stopJob(deps: Deps, id: string, msg: string): Promise<JobDoc> {
  const col = jobsCollection(deps.store);
  for (;;) {
    const job = await col.get(id);
    if (!job) throw new Conflict(`job ${id} no longer exists`);
    if (job.state !== 'creating' && job.state !== 'running') throw new Conflict(`job ${job.name} is ${job.state}; only creating or running jobs can be stopped`);
    const stopped = await col.update(job._id, { version: job.version, state: job.state }, { set: { state: 'error', msg, ...(job.res === 'waiting' ? { res: 'none' as const } : {}) } });
    if (!stopped) continue;
    if (stopped.res === 'held') await releaseJob(stopped, deps);
    return (await col.get(job._id)) ?? stopped;
  }
}
