import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'jobs-log',
  method: 'GET',
  path: '/api/v1/users/{user}/jobs/{job}/log',
  auth: 'owner',
  description: 'The job\'s stdout and stderr (log/job.log in its workspace) as text.',
});
