import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'resources-reconcile',
  method: 'POST',
  path: '/api/v1/reconcile/resources',
  auth: 'service',
  uses: ['resources'],
  internal: true,
  schedule: { everySeconds: 10, cron: '* * * * *' },
  description: 'Cancel resource tries not confirmed within MLP_TCC_TIMEOUT; archive decided requests; forget old tombstones.',
});
