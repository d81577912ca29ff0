import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'models-list',
  method: 'GET',
  path: '/api/v1/users/{user}/models',
  auth: 'owner',
  uses: ['store'],
  description: "The user's models, oldest first.",
});
