import { jobOrNotFound } from '../../shared/jobs/find.js';
import { jobView } from '../../shared/repos/jobs.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => jobView(await jobOrNotFound(deps, params.user ?? '', params.job ?? ''));
