import { Type } from '@sinclair/typebox';
import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'jobs-heartbeat',
  method: 'PUT',
  path: '/api/v1/users/{user}/jobs/{job}:heartbeat',
  auth: 'owner-or-job',
  uses: ['store', 'orchestrator', 'resources'],
  orchestrator: true, // a finished or error heartbeat stops the job's workload before its state changes
  body: S.object({
    state: Type.Union([Type.Literal('running'), Type.Literal('finished'), Type.Literal('error')]),
    progress: Type.Integer({ minimum: 0, maximum: 100 }),
  }),
  description: 'The script reports its state and progress (job token or owner token).',
});
