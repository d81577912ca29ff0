import t from 'tap';
import { inProcessTarget } from '../helpers/target.js';
import { metricsVolumeScenario } from './scenarios/metrics-volume.js';

// The scenario of metrics-volume.test.ts on Kafka, which npm test starts (so npm run test:contract
// leaves this file out).
const brokers = process.env.MLP_TEST_KAFKA_BROKERS;
t.test('100,000 metrics of 100 jobs on Kafka', { skip: brokers ? false : 'MLP_TEST_KAFKA_BROKERS not set (npm test sets it)' }, async (t) => {
  const target = await inProcessTarget({ MLP_KAFKA_BROKERS: brokers ?? '', MLP_METRICS_TOPIC: `metrics-volume.${process.pid}.${Date.now().toString(36)}` });
  t.teardown(() => target.close());
  await metricsVolumeScenario(t, target);
});
