import { defineRoute } from '../../shared/routes/route.js';
import { decideBody } from '../../shared/tcc/schemas.js';

export default defineRoute({
  name: 'resources-confirm',
  method: 'PUT',
  path: '/api/v1/resource_request:confirm',
  auth: 'service',
  uses: ['resources'],
  internal: true,
  body: decideBody,
  description: 'Confirm a tried resource request; idempotent, 200 for an unknown id.',
});
