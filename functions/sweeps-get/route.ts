import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'sweeps-get',
  method: 'GET',
  path: '/api/v1/users/{user}/sweeps/{sweep}',
  auth: 'owner',
  uses: ['store'],
  description: 'One sweep: its state, progress and best trial so far.',
});
