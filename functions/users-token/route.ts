import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'users-token',
  method: 'GET',
  path: '/api/v1/users/{user}/token',
  auth: 'basic',
  // It signs the token it answers.
  secrets: ['signing-key'],
  uses: ['store'],
  description: 'Log in: trade Basic credentials for a signed, expiring token.',
});
