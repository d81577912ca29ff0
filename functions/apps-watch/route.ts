import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'apps-watch',
  method: 'POST',
  path: '/api/v1/reconcile/apps',
  auth: 'service',
  uses: ['store', 'orchestrator', 'resources'],
  orchestrator: true, // starts, watches and stops app servers
  internal: true,
  // The app watcher: always on, one instance (it owns the apps' runtime state and their restarts).
  alwaysOn: true,
  maxScale: 1,
  description: 'The app watcher: starts servers, marks apps ready when healthy, restarts failed ones with backoff, error after repeated failures, finishes deletions. POST runs one pass now.',
});
