import { Conflict, Forbidden } from '../../shared/core/errors.js';
import { endJob } from '../../shared/jobs/ending.js';
import { jobOrNotFound } from '../../shared/jobs/find.js';
import { HEARTBEAT, jobsCollection } from '../../shared/records/jobs.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params, body, principal }, deps) => {
  const name = params.job ?? '';
  for (;;) {
    const job = await jobOrNotFound(deps, params.user ?? '', name);
    // Names are reused after deletion: a token of an earlier job of this name is refused.
    if (principal.kind === 'job' && principal.jobId !== job.uid) throw new Forbidden(`this job token belongs to an earlier job named ${name}`);
    if (!HEARTBEAT[job.state].includes(body.state)) throw new Conflict(`job ${name} is ${job.state}; a heartbeat cannot make it ${body.state}`);
    if (job.ending) return ''; // it is ending already: the first outcome stands
    if (body.state === 'running') {
      if (
        await jobsCollection(deps.store).update(
          job._id,
          { version: job.version },
          { set: { state: 'running', progress: body.progress, ...(job.running_at ? {} : { running_at: deps.now().toISOString() }) } },
        )
      )
        return '';
      continue;
    }
    // Every process of the job ends before the state says it has ended (shared/jobs/ending.ts).
    const outcome = body.state === 'finished' ? { state: body.state, progress: 100 } : { state: body.state, progress: body.progress, msg: 'the job reported an error' };
    if (await endJob(job, outcome, deps)) return '';
  }
};
