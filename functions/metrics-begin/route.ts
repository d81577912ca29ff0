import { defineRoute } from '../../shared/routes/route.js';
import { Type } from '@sinclair/typebox';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'metrics-begin',
  method: 'PUT',
  path: '/api/v1/users/{user}/job_metrics/{job}:begin',
  auth: 'service',
  uses: ['store', 'bus'],
  internal: true,
  body: S.object({ job_id: Type.String({ pattern: '^[a-z0-9-]{1,64}$' }) }),
  description: 'The job runs: metrics with its internal id are accepted from now on.',
});
