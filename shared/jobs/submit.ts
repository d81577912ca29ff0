import { v4 as uuid } from 'uuid';
import type { Deps } from '../wiring/deps.js';
import { Conflict, Forbidden } from '../core/errors.js';
import { checkObjectCap } from '../records/object-cap.js';
import { jobId, jobsCollection, type JobDoc } from '../records/jobs.js';
import type { Runtime } from '../runtimes/catalog.js';
import { reservingSweep } from '../sweeps/reserve.js';
import { describe, exceeding, toExact } from '../tcc/amounts.js';
import { admitWaiting, releaseJob } from './lifecycle.js';
import { checkEntryFile } from './entry-file.js';

/** What a job is asked with (docs/api.md#jobs), already checked against the route's schema. */
export interface JobSpec {
  name: string;
  entry: string;
  tenant?: string;
  runtime?: string;
  gpu?: number;
  cpu?: number;
  ram?: number;
  retries?: number;
}

/**
 * Creates a job waiting for resources and runs one admission pass (docs/api.md#jobs: it runs at
 * once if it is its user's first waiting one, fits, and nothing waiting longer has resources kept
 * for it). A sweep's trial names the sweep and carries its point; any other job may not take a
 * name a sweep reserved (checked after the insert, so a sweep created at the same time sees the
 * job or the job sees the sweep).
 */
export async function submitJob(deps: Deps, user: string, spec: JobSpec, trial?: { sweep: string; params: Record<string, number | string> }): Promise<JobDoc> {
  const tenant = spec.tenant ?? 'default';
  const job = { gpu: spec.gpu ?? 0, cpu: spec.cpu ?? 1, ram: spec.ram ?? 1000 };
  const runtime = offeredRuntime(deps, spec.runtime ?? 'tf');
  await checkEntryFile(deps, user, runtime, spec.entry);
  const t = await deps.resources.getTenant(tenant);
  if (!t) throw new Forbidden(`tenant ${tenant} not found`);
  const need = toExact(job);
  const never = exceeding(need, t.capacity);
  if (never.length > 0) throw new Forbidden(`job can never fit the tenant: needs ${describe(need, never)}; capacity ${describe(t.capacity, never)}`);
  const col = jobsCollection(deps.store);
  await checkObjectCap(deps, col, user, 'jobs');
  if (!trial) await refuseReserved(deps, user, spec.name);
  const id = jobId(user, spec.name);
  try {
    await col.insert({
      _id: id,
      uid: uuid(),
      name: spec.name,
      user,
      tenant,
      runtime,
      entry: spec.entry,
      ...job,
      ...(spec.retries ? { retries: spec.retries } : {}),
      ...(trial ? { sweep: trial.sweep, params: trial.params } : {}),
      state: 'creating',
      progress: 0,
      res: 'waiting',
      msg: 'waiting for resources',
    });
  } catch (err) {
    if (err instanceof Conflict) throw new Conflict(`job ${spec.name} already exists`);
    throw err;
  }
  if (!trial) {
    try {
      await refuseReserved(deps, user, spec.name);
    } catch (err) {
      // A sweep reserved the name meanwhile. Still waiting, nothing is held: the record goes. Admitted
      // already (a reconciler's pass), it is stopped and gives back what it holds.
      if (!(await col.remove(id, { res: 'waiting' }))) {
        const ended = await col.update(id, { state: 'creating' }, { set: { state: 'error', msg: (err as Error).message } });
        if (ended?.res === 'held') await releaseJob(ended, deps);
      }
      throw err;
    }
  }
  await admitWaiting(deps);
  const created = await col.get(id);
  if (!created) throw new Conflict(`job ${spec.name} was deleted while it was being created`);
  return created;
}

async function refuseReserved(deps: Deps, user: string, name: string): Promise<void> {
  const sweep = await reservingSweep(deps, user, name);
  if (sweep) throw new Forbidden(`job name ${name} is reserved for a trial of sweep ${sweep}; choose another name`);
}

function offeredRuntime(deps: Deps, asked: string): Runtime {
  const offered = deps.config.runtimes;
  if (!(offered as string[]).includes(asked)) throw new Forbidden(`runtime ${asked} is not offered here; this installation offers ${offered.join(', ')}`);
  return asked as Runtime;
}
