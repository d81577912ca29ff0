import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'sweeps-reconcile',
  method: 'POST',
  path: '/api/v1/reconcile/sweeps',
  auth: 'service',
  uses: ['store', 'bus', 'orchestrator', 'resources'],
  orchestrator: true, // stops trials (median rule, :stop, deletion)
  // Creating a trial may admit and start it with a job token it signs (shared/jobs/lifecycle.ts launch).
  secrets: ['signing-key'],
  internal: true,
  schedule: { everySeconds: 2, cron: '* * * * *' },
  description: "Move sweeps on: read trials' metrics (best, progress), stop trials by the median rule, create trials up to `parallel`, finish deletions.",
});
