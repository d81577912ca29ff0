import t from 'tap';
import { inProcessTarget } from '../helpers/target.js';
import { metricsVolumeScenario } from './scenarios/metrics-volume.js';

// 100,000 metrics of 100 jobs through the relay on the in-process bus; metrics-volume-kafka.test.ts
// runs the same scenario on Kafka.
t.test('100,000 metrics of 100 jobs on the in-process bus', async (t) => {
  const target = await inProcessTarget();
  t.teardown(() => target.close());
  await metricsVolumeScenario(t, target);
});
