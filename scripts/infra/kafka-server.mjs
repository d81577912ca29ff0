// A single-node Kafka (KRaft) as scripts/infra/up.mjs runs it: its configuration, and the probe that
// says it is ready.
import crypto from 'node:crypto';
import path from 'node:path';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { isAlive, log as defaultLog, sleep, tail } from './lib.mjs';

// Kafka cluster ids are 16 random bytes in URL-safe base64 without padding;
// Kafka itself never hands out one starting with "-" (it reads as a CLI flag).
export function kafkaClusterId() {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export function kafkaProperties({ brokerPort, controllerPort, dataDir }) {
  return `${[
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${brokerPort}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1', // the default 50 makes the first consumer group slow to start
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'group.initial.rebalance.delay.ms=0', // tests' consumers join at once instead of after 3 s
  ].join('\n')}\n`;
}

// Kafka 3.x logs through log4j 1.x (reload4j). Broker INFO is useful in the log
// when a start fails; the chattiest loggers are turned down.
export const LOG4J = `${[
  'log4j.rootLogger=INFO, stdout',
  'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
  'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
  'log4j.logger.org.apache.kafka.clients=WARN',
  'log4j.logger.org.apache.kafka.common.config=WARN',
  'log4j.logger.kafka.log=WARN',
  'log4j.logger.state.change.logger=WARN',
].join('\n')}\n`;

export function javaArgs(runDir, lib, mainClass, args, heap) {
  return [...heap, `-Dlog4j.configuration=file:${path.join(runDir, 'log4j.properties')}`, '-Djava.awt.headless=true', '-XX:+ExitOnOutOfMemoryError', '-cp', `${lib}/*`, mainClass, ...args];
}

function withDeadline(promise, deadline, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), Math.max(0, deadline - Date.now()));
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Ready means a real round trip: create a topic, produce to it, consume it back.
// Every step is bounded by the deadline and the clients are always disconnected:
// a kafkajs consumer left running against a dead broker retries forever and
// keeps the process alive.
async function kafkaRoundTrip(broker, runId, deadline) {
  const kafka = new Kafka({
    clientId: 'mlp-infra-probe',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    retry: { retries: 3, initialRetryTime: 200 },
  });
  const topic = `mlp-infra-probe-${runId}`;
  const groupId = `mlp-infra-probe-${runId}`;
  const token = crypto.randomUUID();
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({
    groupId,
    sessionTimeout: 10000,
    heartbeatInterval: 1000,
    retry: { retries: 3, restartOnFailure: async () => false }, // fail this attempt; the caller retries
  });
  const step = (what, promise) => withDeadline(promise, deadline, what);
  try {
    await step('admin connect', admin.connect());
    await step(
      'create topic',
      admin.createTopics({
        topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
        waitForLeaders: true,
      }),
    );
    await step('producer connect', producer.connect());
    await step('produce', producer.send({ topic, messages: [{ value: token }] }));
    await step('consumer connect', consumer.connect());
    await step('subscribe', consumer.subscribe({ topics: [topic], fromBeginning: true }));
    await step(
      'consume the probe message',
      new Promise((resolve, reject) => {
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({
            eachMessage: async ({ message }) => {
              if (message.value?.toString() === token) resolve();
            },
          })
          .catch(reject);
      }),
    );
    await step('disconnect consumer', consumer.disconnect());
    // Leave the broker as tests expect it: no probe topic or group.
    await step('delete probe group', admin.deleteGroups([groupId]));
    await step('delete probe topic', admin.deleteTopics({ topics: [topic] }));
  } finally {
    // allSettled: disconnecting clients that never connected may fail; that is not news.
    const results = await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) defaultLog(`kafka probe: disconnect failed: ${failed.map((r) => r.reason.message).join('; ')}`);
  }
}

export async function waitForKafka(broker, runId, proc, logFile, deadline) {
  let lastErr;
  while (Date.now() < deadline) {
    if (!isAlive(proc.pid)) throw new Error(`Kafka exited during start\n${tail(logFile)}`);
    try {
      await kafkaRoundTrip(broker, runId, deadline);
      return;
    } catch (err) {
      lastErr = err;
    }
    await sleep(500);
  }
  throw new Error(`Kafka at ${broker} did not pass a produce/consume round trip in time ` + `(last error: ${lastErr?.message})\n${tail(logFile)}`);
}
