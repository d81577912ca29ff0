import { sweepView } from '../../shared/records/sweeps.js';
import type { Handler } from '../../shared/routes/route.js';
import { createSweep } from '../../shared/sweeps/create.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params, body }, deps) => sweepView(await createSweep(deps, params.user ?? '', body));
