import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'apps-list',
  method: 'GET',
  path: '/api/v1/users/{user}/apps',
  auth: 'owner',
  uses: ['store'],
  description: "The user's applications, oldest first.",
});
