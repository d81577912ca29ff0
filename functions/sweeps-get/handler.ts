import { sweepView } from '../../shared/records/sweeps.js';
import type { Handler } from '../../shared/routes/route.js';
import { sweepOrNotFound } from '../../shared/sweeps/find.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => sweepView(await sweepOrNotFound(deps, params.user ?? '', params.sweep ?? ''));
