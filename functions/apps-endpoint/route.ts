import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'apps-endpoint',
  method: 'GET',
  path: '/api/v1/users/{user}/apps/{app}/endpoint',
  auth: 'owner',
  uses: ['store', 'orchestrator'],
  // The app gateway's check (Nginx auth_request): it needs the caller's own token, not the service's.
  internal: true,
  description: 'Where the app gateway sends a request for a ready app: the x-mlp-app-upstream header, empty body (403 unless ready).',
});
