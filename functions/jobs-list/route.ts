import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'jobs-list',
  method: 'GET',
  path: '/api/v1/users/{user}/jobs',
  auth: 'owner',
  uses: ['store', 'resources'],
  description: "The user's jobs, oldest first.",
});
