import { defineRoute } from '../../shared/routes/route.js';
import { S } from '../../shared/core/validation.js';

export default defineRoute({
  name: 'sweeps-stop',
  method: 'PUT',
  path: '/api/v1/users/{user}/sweeps/{sweep}:stop',
  auth: 'owner',
  uses: ['store', 'bus', 'orchestrator', 'resources'],
  orchestrator: true, // stops its running trials' workloads
  body: S.object({}),
  description: 'Stop a sweep: no more trials start, its waiting and running trials are stopped; it ends finished with msg "stopped by user".',
});
