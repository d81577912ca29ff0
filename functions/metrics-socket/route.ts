import { defineRoute } from '../../shared/routes/route.js';

export default defineRoute({
  name: 'metrics-socket',
  method: 'GET',
  path: '/api/v1/users/{user}/job_metrics/{job}',
  auth: 'owner',
  uses: ['store', 'bus'],
  // The relay consumes the metrics topic and holds the sockets: one always-on instance.
  alwaysOn: true,
  maxScale: 1,
  description: "The metrics relay: a WebSocket of a job's metrics (history, then live); without upgrade, the stored list.",
});
