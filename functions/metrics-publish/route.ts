import { jobMetricsSchema } from '../../shared/metrics/store.js';
import { defineRoute } from '../../shared/route.js';

export default defineRoute({
  name: 'metrics-publish',
  method: 'POST',
  path: '/api/v1/users/{user}/job_metrics/{job}',
  auth: 'owner-or-job',
  body: jobMetricsSchema,
  description: 'Publish one JobMetrics for scripts that cannot reach Kafka (and local jobs without Kafka).',
});
