import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'metrics-compare',
  method: 'GET',
  path: '/api/v1/users/{user}/job_metrics',
  auth: 'owner',
  uses: ['store'],
  description:
    "Compare runs: `?jobs=a,b,c` (1 to 100 of your jobs) gives each job's stored metrics in epoch order, `{job: [JobMetrics]}`; a job with none (or no longer there) gives []. Each list holds at most `?points=` metrics (default 1000, at most 10000): longer histories are thinned evenly, keeping the first and the last.",
});
