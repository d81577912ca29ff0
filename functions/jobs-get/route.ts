import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'jobs-get',
  method: 'GET',
  path: '/api/v1/users/{user}/jobs/{job}',
  auth: 'owner',
  uses: ['store', 'resources'],
  description: 'One job.',
});
