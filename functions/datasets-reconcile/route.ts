import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'datasets-reconcile',
  method: 'POST',
  path: '/api/v1/reconcile/datasets',
  auth: 'service',
  uses: ['store', 'resources'],
  internal: true,
  schedule: { everySeconds: 5, cron: '* * * * *' },
  description: 'Finish deletions, settle interrupted rom tries, and fail datasets without heartbeat for MLP_DATASET_STALE.',
});
