import { v4 as uuid } from 'uuid';
import { jobId, jobsCollection, type JobDoc } from '../../shared/records/jobs.js';
import type { New, Store } from '../../shared/store/port.js';

/**
 * A job's record as jobs-create and the reconciler leave it, for tests whose job no process runs:
 * one cpu, 100 Mi, runtime tf, ended well unless told otherwise (`state`, `res`, … override).
 */
export function jobRecord(user: string, name: string, fields: Partial<JobDoc> = {}): New<JobDoc> {
  return {
    _id: jobId(user, name),
    uid: uuid(),
    name,
    user,
    tenant: 'default',
    runtime: 'tf',
    entry: 'train.mjs',
    gpu: 0,
    cpu: 1,
    ram: 100,
    state: 'finished',
    progress: 100,
    res: 'released',
    ...fields,
  };
}

/** `jobRecord` written straight to the store. */
export function insertJob(store: Store, user: string, name: string, fields: Partial<JobDoc> = {}): Promise<JobDoc> {
  return jobsCollection(store).insert(jobRecord(user, name, fields));
}
