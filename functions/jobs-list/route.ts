import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'jobs-list',
  method: 'GET',
  path: '/api/v1/users/{user}/jobs',
  auth: 'owner',
  description: "The user's jobs, oldest first.",
});
