import type { Deps } from '../wiring/deps.js';
import { jobsCollection, type JobDoc } from '../records/jobs.js';

/** docs/api.md#experiments: the wait before attempt n + 1 is 10 s × 2^(n − 1), at most 5 minutes. */
export const RETRY_FIRST_S = 10;
export const RETRY_MAX_S = 300;
export const backoffS = (attempt: number): number => Math.min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** Math.max(0, attempt - 1));

/**
 * The orchestrator's name for the job's current attempt: the job's id for the first, a name of
 * its own for each later one, so a new attempt never meets what is left of the one before.
 */
export const workloadId = (job: Pick<JobDoc, 'uid' | 'attempt'>): string => ((job.attempt ?? 1) > 1 ? `${job.uid}-a${job.attempt}` : job.uid);

/**
 * What a failed attempt makes of the job: with retries left it waits in `creating`, holding its
 * resources and keeping its workspace, until `retry_at`; else it ends in error. A job over a
 * limit (out of memory, say) or stopped is not retried. `why` says how the attempt ended.
 */
export function afterFailure(job: JobDoc, why: string, opts: { exceeded: boolean; stopped: boolean; now: Date }): Partial<JobDoc> {
  const attempt = job.attempt ?? 1;
  const retries = job.retries ?? 0;
  if (opts.exceeded || opts.stopped || attempt > retries) return { state: 'error', msg: retries > 0 && attempt > 1 ? `${why} (attempt ${attempt} of ${retries + 1})` : why };
  const at = new Date(opts.now.getTime() + backoffS(attempt) * 1000).toISOString();
  return { state: 'creating', retry_at: at, msg: `attempt ${attempt} of ${retries + 1}: ${why}; attempt ${attempt + 1} starts at ${at}` };
}

/**
 * Starts the next attempt once its time has come: the last attempt's workload is forgotten, the
 * attempt counted, then the job launched as at first (same workspace, same job token id, its
 * metrics continuing). A crash after the count leaves a held job not launched, which the
 * reconciler launches after the TCC timeout like any such job. Returns whether it started.
 */
export async function relaunch(job: JobDoc, deps: Deps, launch: (job: JobDoc, deps: Deps) => Promise<void>): Promise<boolean> {
  if (!job.retry_at || job.retry_at > deps.now().toISOString()) return false;
  await deps.orchestrator.forget(workloadId(job));
  const next = await jobsCollection(deps.store).update(
    job._id,
    { version: job.version, state: 'creating' },
    { set: { attempt: (job.attempt ?? 1) + 1, launched: false }, unset: ['retry_at', 'running_at'] },
  );
  if (!next) return false;
  await launch(next, deps);
  return true;
}
