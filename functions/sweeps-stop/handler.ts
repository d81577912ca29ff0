import { Conflict, isClientError } from '../../shared/core/errors.js';
import { stopJob } from '../../shared/jobs/stop.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { sweepsCollection, sweepView } from '../../shared/records/sweeps.js';
import type { Handler } from '../../shared/routes/route.js';
import { sweepOrNotFound } from '../../shared/sweeps/find.js';
import type route from './route.js';

/** Marks it stopping (the reconciler starts no more trials and settles its state), then stops its active trials. */
export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const user = params.user ?? '';
  const name = params.sweep ?? '';
  const col = sweepsCollection(deps.store);
  for (;;) {
    const sweep = await sweepOrNotFound(deps, user, name);
    if (sweep.state !== 'running') throw new Conflict(`sweep ${name} is ${sweep.state}; only a running sweep can be stopped`);
    if (sweep.stopping) return sweepView(sweep);
    if (await col.update(sweep._id, { version: sweep.version }, { set: { stopping: true } })) break;
  }
  for (const job of await jobsCollection(deps.store).find({ user, sweep: name, state: { $in: ['creating', 'running'] } })) {
    await stopJob(deps, job._id, `stopped by user (sweep ${name})`).catch((err: unknown) => {
      if (!isClientError(err)) throw err; // it ended meanwhile
    });
  }
  return sweepView(await sweepOrNotFound(deps, user, name));
};
