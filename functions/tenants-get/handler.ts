import { NotFound } from '../../shared/core/errors.js';
import type { Handler } from '../../shared/routes/route.js';
import { tenantView } from '../../shared/tcc/tenant-view.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const tenant = await deps.resources.getTenant(params.tenant ?? '');
  if (!tenant) throw new NotFound(`tenant ${params.tenant ?? ''} not found`);
  return tenantView(tenant);
};
