import { defineRoute } from '../../shared/routes/route.js';
import { tryBody } from '../../shared/tcc/schemas.js';

export default defineRoute({
  name: 'resources-try',
  method: 'PUT',
  path: '/api/v1/resource_request:try',
  auth: 'service',
  uses: ['resources'],
  internal: true,
  body: tryBody,
  description: 'Try a resource request (reserves at once) or release (counted at confirm).',
});
