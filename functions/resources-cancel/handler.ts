import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ body }, deps) => {
  await deps.resources.cancel(body.id, body.applier);
  return '';
};
