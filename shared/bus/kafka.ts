import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import type { Logger } from '../log.js';
import type { Bus, Message, Subscription } from './port.js';

/**
 * The production Bus on Kafka. Producer waits for all in-sync replicas (acks -1);
 * consumers commit an offset only after the handler finished, so at-least-once.
 */
export async function createKafkaBus(opts: { brokers: string[]; clientId: string; log: Logger; partitions?: number; retryMs?: number }): Promise<Bus> {
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => opts.log.warn(`kafka: ${entry.log.message}`, { namespace: entry.namespace }),
  });
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const consumers = new Set<Consumer>();
  const retryMs = opts.retryMs ?? 500;

  return {
    kind: 'kafka',
    async ensureTopics(topics) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const existing = new Set(await admin.listTopics());
        const missing = topics.filter((t) => !existing.has(t));
        if (missing.length > 0) {
          await admin.createTopics({ waitForLeaders: true, topics: missing.map((topic) => ({ topic, numPartitions: opts.partitions ?? 3, replicationFactor: -1 })) });
        }
      } finally {
        await admin.disconnect();
      }
    },
    async publish(topic, messages) {
      await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers ?? {} })) });
    },
    async subscribe({ topic, group, fromBeginning }, handler): Promise<Subscription> {
      const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false });
      consumers.add(consumer);
      let stopping = false;
      let inflight: Promise<void> | undefined;
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: fromBeginning ?? false });
      const handleAndCommit = async (t: string, partition: number, msg: Message) => {
        // Retry here rather than let kafkajs restart the consumer: the partition waits, nothing is skipped.
        for (;;) {
          try {
            await handler(msg);
            break;
          } catch (err) {
            opts.log.error('bus handler failed; retrying', { topic: t, group, partition, offset: msg.offset, err: (err as Error).message });
            if (stopping) throw new Error('consumer stopping; message left uncommitted for redelivery');
            await new Promise((r) => setTimeout(r, retryMs));
          }
        }
        await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(msg.offset) + 1n).toString() }]);
      };
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic: t, partition, message }) => {
          // After stop() began, nothing new is handled: it stays uncommitted and is redelivered later.
          if (stopping) throw new Error('consumer stopping');
          const msg: Message = {
            topic: t,
            partition,
            offset: message.offset,
            key: message.key?.toString('utf8') ?? '',
            value: message.value?.toString('utf8') ?? '',
            headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? String(v[0] ?? '') : String(v ?? '')])),
          };
          inflight = handleAndCommit(t, partition, msg);
          try {
            await inflight;
          } finally {
            inflight = undefined;
          }
        },
      });
      return {
        async stop() {
          if (stopping) return; // stopping twice is harmless
          stopping = true;
          consumer.pause([{ topic }]);
          // The message being handled finishes and is committed before the consumer leaves.
          await inflight?.catch((err: unknown) => opts.log.warn('in-flight message not committed at stop', { err: (err as Error).message }));
          consumers.delete(consumer);
          await consumer.disconnect();
        },
      };
    },
    async close() {
      for (const consumer of consumers) await consumer.disconnect();
      consumers.clear();
      await producer.disconnect();
    },
  };
}
