import type { Handler } from '../../shared/routes/route.js';
import { sweepOrNotFound, trialsView } from '../../shared/sweeps/find.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => trialsView(await sweepOrNotFound(deps, params.user ?? '', params.sweep ?? ''));
