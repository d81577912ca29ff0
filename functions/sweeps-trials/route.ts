import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'sweeps-trials',
  method: 'GET',
  path: '/api/v1/users/{user}/sweeps/{sweep}/trials',
  auth: 'owner',
  uses: ['store'],
  description: "A sweep's trials in trial order: job, params, state (pending before its job exists) and the best value so far with its epoch.",
});
