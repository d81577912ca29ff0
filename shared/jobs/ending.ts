import type { Deps } from '../wiring/deps.js';
import { jobsCollection, type JobDoc, type JobEnding } from '../records/jobs.js';
import { workloadId } from './retry.js';

/**
 * A job that says it has ended (a `finished` or `error` heartbeat) ends for real before its state
 * says so: its outcome is recorded first (`ending`), then every process of it is stopped, then the
 * state changes. Nothing of a job runs once it is `finished`, so what the platform reads of it
 * afterwards (its ckpt/ for a model, its log) can no longer change under the platform's feet. A
 * crash between the steps leaves `ending` for the jobs reconciler (syncWorkloads), which stops the
 * workload and applies the outcome. Answers false when the job changed meanwhile (the caller reads
 * it again).
 */
export async function endJob(job: JobDoc, outcome: JobEnding, deps: Deps): Promise<boolean> {
  const col = jobsCollection(deps.store);
  const marked = job.ending ? job : await col.update(job._id, { version: job.version, state: job.state }, { set: { ending: outcome } });
  if (!marked) return false;
  await stopProcesses(marked, deps);
  await applyEnding(marked, deps);
  return true;
}

/** Stops whatever of the job may run: launched, or admitted and about to be (a stop of an unknown id does nothing). */
export async function stopProcesses(job: JobDoc, deps: Deps): Promise<void> {
  if (job.launched || job.res === 'held') await deps.orchestrator.stop(workloadId(job));
}

/** The recorded outcome becomes the job's state (once its processes are gone); idempotent. */
export async function applyEnding(job: JobDoc, deps: Deps): Promise<void> {
  const col = jobsCollection(deps.store);
  for (let current: JobDoc | null = job; current?.ending; current = await col.get(job._id)) {
    const { state, progress, msg } = current.ending;
    const set = { state, progress, ...(msg ? { msg } : {}) };
    if (await col.update(current._id, { version: current.version }, { set, unset: ['ending'] })) return;
  }
}
