import t from 'tap';
import { inProcessTarget } from '../helpers/target.js';
import { metricsScenario } from './scenarios/metrics.js';

// The metrics scenario of metrics.test.ts in-process on Kafka, which npm test starts (so
// npm run test:contract leaves this file out).
const brokers = process.env.MLP_TEST_KAFKA_BROKERS;
t.test('metrics on Kafka', { skip: brokers ? false : 'MLP_TEST_KAFKA_BROKERS not set (npm test sets it)' }, async (t) => {
  const target = await inProcessTarget({ MLP_KAFKA_BROKERS: brokers ?? '', MLP_METRICS_TOPIC: `metrics.${process.pid}.${Date.now().toString(36)}` });
  t.teardown(() => target.close());
  await metricsScenario(t, target);
});
