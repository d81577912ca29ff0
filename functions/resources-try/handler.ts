import type { Handler } from '../../shared/routes/route.js';
import { toExact } from '../../shared/tcc/amounts.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ body }, deps) => {
  await deps.resources.try({ id: body.id, applier: body.applier, type: body.request_type, tenant: body.tenant ?? 'default', amounts: toExact(body) });
  return '';
};
