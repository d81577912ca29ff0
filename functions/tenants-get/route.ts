import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'tenants-get',
  method: 'GET',
  path: '/api/v1/tenants/{tenant}',
  auth: 'user',
  uses: ['resources'],
  description: "A tenant's capacity and what is in use.",
});
