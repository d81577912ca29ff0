import t from 'tap';
import { createInProcessBus } from '../../shared/bus/in-process.js';
import { createKafkaBus } from '../../shared/bus/kafka.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { busConformance } from './bus-suite.js';

const log = createLogger({ component: 'test', sinks: [memorySink()] });
const run = `${process.pid}-${Date.now().toString(36)}`;

t.test('in-process bus', (t) => {
  busConformance(t, { open: async () => createInProcessBus({ log, retryMs: 10 }), topicName: (label) => `conf.${label}.${run}` });
  t.end();
});

const brokers = process.env.MLP_TEST_KAFKA_BROKERS;
t.test('kafka bus', { skip: brokers ? false : 'MLP_TEST_KAFKA_BROKERS not set (npm test sets it)' }, (t) => {
  busConformance(t, {
    open: () => createKafkaBus({ brokers: (brokers ?? '').split(','), clientId: 'conformance', log, retryMs: 50, partitions: 1 }),
    topicName: (label) => `conf.${label}.${run}`,
  });
  t.end();
});
