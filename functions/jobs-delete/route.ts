import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'jobs-delete',
  method: 'DELETE',
  path: '/api/v1/users/{user}/jobs/{job}',
  auth: 'owner',
  uses: ['store'],
  description: 'Delete a finished or error job: deleting now; process, workspace and record follow.',
});
