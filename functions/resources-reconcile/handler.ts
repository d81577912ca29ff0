import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async (_input, deps) => deps.resources.reconcile();
