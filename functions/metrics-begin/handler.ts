import { begin } from '../../shared/metrics/store.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params, body }, deps) => {
  await begin(deps, params.user ?? '', params.job ?? '', body.job_id);
  return '';
};
