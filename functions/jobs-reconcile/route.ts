import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'jobs-reconcile',
  method: 'POST',
  path: '/api/v1/reconcile/jobs',
  auth: 'service',
  orchestrator: true, // watches, stops and forgets jobs
  // Admitting a queued job starts it with a job token it signs (shared/jobs/lifecycle.ts launch).
  secrets: ['signing-key'],
  uses: ['store', 'bus', 'orchestrator', 'resources'],
  internal: true,
  schedule: { everySeconds: 2, cron: '* * * * *' },
  // Also follows workload events (jobs and apps share one way of watching workloads), so one instance stays up.
  alwaysOn: true,
  maxScale: 1,
  description: "Follow job processes (on each workload event and on the schedule), release ended jobs' resources once, admit queued jobs FIFO, finish deletions.",
});
