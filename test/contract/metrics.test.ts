import t from 'tap';
import { inProcessTarget } from '../helpers/target.js';
import { metricsScenario } from './scenarios/metrics.js';

// The metrics routes in-process on the in-process bus; metrics-kafka.test.ts runs the same scenario
// on Kafka, test/cluster/contract.test.ts against cluster:local.
t.test('metrics on the in-process bus', async (t) => {
  const target = await inProcessTarget();
  t.teardown(() => target.close());
  await metricsScenario(t, target);
});
