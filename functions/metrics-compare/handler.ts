import { compare, comparedJobs, pointsLimit } from '../../shared/metrics/compare.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params, query }, deps) => compare(deps, params.user ?? '', comparedJobs(query.jobs), pointsLimit(query.points));
