import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'apps-delete',
  method: 'DELETE',
  path: '/api/v1/users/{user}/apps/{app}',
  auth: 'owner',
  uses: ['store'],
  orchestrator: true, // stops and forgets the app's server
  description: 'Delete a ready or error application: deleting now; the app watcher stops it, frees its port and releases its resources once.',
});
