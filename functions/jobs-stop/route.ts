import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'jobs-stop',
  method: 'PUT',
  path: '/api/v1/users/{user}/jobs/{job}:stop',
  auth: 'owner',
  uses: ['store', 'bus', 'orchestrator', 'resources'],
  orchestrator: true, // stops the job's workload
  body: S.object({}),
  description: 'Stop a creating or running job: it ends in error with msg "stopped by user".',
});
