import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'apps-get',
  method: 'GET',
  path: '/api/v1/users/{user}/apps/{app}',
  auth: 'owner',
  uses: ['store'],
  description: 'One application.',
});
