import t from 'tap';
import { inProcessTarget } from '../helpers/target.js';
import { metricsScenario } from './scenarios/metrics.js';

// docs/api.md#job-metrics in-process, on the in-process bus and on Kafka; test/cluster/contract.test.ts runs the
// same scenario against cluster:local.
t.test('metrics on the in-process bus', async (t) => {
  const target = await inProcessTarget();
  t.teardown(() => target.close());
  await metricsScenario(t, target);
});

const brokers = process.env.MLP_TEST_KAFKA_BROKERS;
t.test('metrics on Kafka', { skip: brokers ? false : 'MLP_TEST_KAFKA_BROKERS not set (npm test sets it)' }, async (t) => {
  const target = await inProcessTarget({ MLP_KAFKA_BROKERS: brokers ?? '', MLP_METRICS_TOPIC: `metrics.${process.pid}.${Date.now().toString(36)}` });
  t.teardown(() => target.close());
  await metricsScenario(t, target);
});
