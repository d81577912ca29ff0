import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'sweeps-list',
  method: 'GET',
  path: '/api/v1/users/{user}/sweeps',
  auth: 'owner',
  uses: ['store'],
  description: "The user's sweeps, oldest first.",
});
