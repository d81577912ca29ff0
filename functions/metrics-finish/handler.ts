import { finish } from '../../shared/metrics/store.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  await finish(deps, params.user ?? '', params.job ?? '');
  return '';
};
