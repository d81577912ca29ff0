import { v4 as uuid } from 'uuid';
import { jobsCollection, type JobDoc } from '../../shared/records/jobs.js';
import type { Store } from '../../shared/store/port.js';

/**
 * A job's record written straight to the store, for tests whose job no process runs: one cpu,
 * 100 Mi, runtime tf, ended well unless told otherwise (`state`, `res`, … override).
 */
export function insertJob(store: Store, user: string, name: string, fields: Partial<JobDoc> = {}): Promise<JobDoc> {
  return jobsCollection(store).insert({
    _id: `${user}/${name}`,
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
  });
}
