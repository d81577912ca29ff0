import { defineRoute } from '../../shared/routes/route.js';
import { decideBody } from '../../shared/tcc/schemas.js';

export default defineRoute({
  name: 'resources-cancel',
  method: 'PUT',
  path: '/api/v1/resource_request:cancel',
  auth: 'service',
  uses: ['resources'],
  internal: true,
  body: decideBody,
  description: 'Cancel a tried resource request; an unknown id leaves a tombstone.',
});
