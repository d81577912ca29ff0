import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'jobs-reconcile',
  method: 'POST',
  path: '/api/v1/reconcile/jobs',
  auth: 'service',
  internal: true,
  schedule: { everySeconds: 2, cron: '* * * * *' },
  description: 'Follow job processes, release ended jobs\' resources once, admit queued jobs FIFO, finish deletions.',
});
