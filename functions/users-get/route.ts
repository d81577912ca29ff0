import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'users-get',
  method: 'GET',
  path: '/api/v1/users/{user}',
  auth: 'owner',
  uses: ['store'],
  description: 'The user as the platform knows them: name and state.',
});
