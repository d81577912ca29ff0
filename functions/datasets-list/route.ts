import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'datasets-list',
  method: 'GET',
  path: '/api/v1/users/{user}/datasets',
  auth: 'owner',
  uses: ['store'],
  description: "The user's datasets, oldest first.",
});
