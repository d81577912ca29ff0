import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'models-reconcile',
  method: 'POST',
  path: '/api/v1/reconcile/models',
  auth: 'service',
  uses: ['store', 'resources'],
  internal: true,
  schedule: { everySeconds: 2, cron: '* * * * *' },
  description: 'Finish copies a create could not, settle interrupted rom tries, finish deletions (files, rom once, record).',
});
