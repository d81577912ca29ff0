import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'metrics-finish',
  method: 'PUT',
  path: '/api/v1/users/{user}/job_metrics/{job}:finish',
  auth: 'service',
  uses: ['store', 'bus'],
  internal: true,

  description: 'The job ended: later metrics are dropped.',
});
