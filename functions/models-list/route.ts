import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'models-list',
  method: 'GET',
  path: '/api/v1/users/{user}/models',
  auth: 'owner',
  description: "The user's models, oldest first.",
});
