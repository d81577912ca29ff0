import type { Handler } from '../../shared/routes/route.js';
import { reconcileSweeps } from '../../shared/sweeps/reconcile.js';
import type route from './route.js';

/** Level-triggered and idempotent (shared/sweeps/reconcile.ts). */
export const handle: Handler<typeof route> = async (_input, deps) => ({ changed: await reconcileSweeps(deps) });
