import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'metrics-delete',
  method: 'PUT',
  path: '/api/v1/users/{user}/job_metrics/{job}:delete',
  auth: 'service',
  uses: ['store', 'bus'],
  internal: true,

  description: 'The job is deleted: its metrics go too.',
});
