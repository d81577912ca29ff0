import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'users-deactivate',
  method: 'PUT',
  path: '/api/v1/users/{user}',
  auth: 'owner',
  uses: ['store', 'bus'],
  // docs/api.md#users: this route ignores its body.
  body: 'ignored',
  description: 'Deactivate a user: every token stops working at once; objects stay.',
});
