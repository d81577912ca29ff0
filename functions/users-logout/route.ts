import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'users-logout',
  method: 'DELETE',
  path: '/api/v1/users/{user}/token',
  auth: 'owner',
  uses: ['store', 'bus'],
  description: "Log out: revoke the token presented; the user's other tokens keep working.",
});
