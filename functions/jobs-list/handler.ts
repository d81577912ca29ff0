import { jobsCollection, jobView } from '../../shared/repos/jobs.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => (await jobsCollection(deps.store).find({ user: params.user ?? '' })).map(jobView);
