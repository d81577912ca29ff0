import type { Deps } from '../wiring/deps.js';
import { NotFound } from '../core/errors.js';
import { jobId, jobsCollection, type JobDoc } from '../records/jobs.js';

export async function jobOrNotFound(deps: Deps, user: string, name: string): Promise<JobDoc> {
  const doc = await jobsCollection(deps.store).get(jobId(user, name));
  if (!doc) throw new NotFound(`job ${name} not found`);
  return doc;
}
