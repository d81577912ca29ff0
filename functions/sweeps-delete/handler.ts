import { Conflict } from '../../shared/core/errors.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { sweepsCollection, sweepView } from '../../shared/records/sweeps.js';
import type { Handler } from '../../shared/routes/route.js';
import { sweepOrNotFound } from '../../shared/sweeps/find.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const user = params.user ?? '';
  const name = params.sweep ?? '';
  for (;;) {
    const sweep = await sweepOrNotFound(deps, user, name);
    if (sweep.state === 'deleting') return sweepView(sweep);
    const active = await jobsCollection(deps.store).find({ user, sweep: name, state: { $in: ['creating', 'running'] } }, { limit: 1 });
    if (active[0] || (sweep.state === 'running' && !sweep.stopping))
      throw new Conflict(`sweep ${name} still has trials to run${active[0] ? ` (${active[0].name} is ${active[0].state})` : ''}; stop it first`);
    const next = await sweepsCollection(deps.store).update(sweep._id, { version: sweep.version }, { set: { state: 'deleting' } });
    if (next) return sweepView(next);
  }
};
