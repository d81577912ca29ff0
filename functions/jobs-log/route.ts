import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'jobs-log',
  method: 'GET',
  path: '/api/v1/users/{user}/jobs/{job}/log',
  auth: 'owner',
  uses: ['store'],
  // A stream route: with ?follow=1 the answer grows as the job writes, until the job ends.
  stream: true,
  description: "The job's stdout and stderr (log/job.log in its workspace) as text; ?follow=1 streams until the job ends.",
});
