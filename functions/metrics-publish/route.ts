import { publishBodySchema } from '../../shared/metrics/store.js';
import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'metrics-publish',
  method: 'POST',
  path: '/api/v1/users/{user}/job_metrics/{job}',
  auth: 'owner-or-job',
  uses: ['store', 'bus'],
  body: publishBodySchema,
  description: 'Publish one JobMetrics or a batch of them (a JSON array of 1 to 1000, published in order), for scripts that cannot reach Kafka (and local jobs without Kafka).',
});
