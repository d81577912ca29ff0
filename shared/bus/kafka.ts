import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type Producer } from 'kafkajs';
import type { Logger } from '../core/log.js';
import type { Bus, Handled, Message, Subscription } from './port.js';

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
        // Another process may have just created it (functions start together): its partitions can
        // still be without a leader, and a consumer subscribing then fails. Wait until they have one.
        await waitForLeaders(admin, topics, opts.log);
      } finally {
        await admin.disconnect();
      }
    },
    async publish(topic, messages) {
      await producer.send({ topic, acks: -1, messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers ?? {} })) });
    },
    async subscribe(spec, handler): Promise<Subscription> {
      // A topic just created by another process may not be served yet (functions start together,
      // each ensuring the shared topics): retry what Kafka says is retriable, with backoff, bounded.
      const deadline = Date.now() + 60_000;
      for (let delay = 250; ; delay = Math.min(delay * 2, 4000)) {
        try {
          return await subscribeOnce(spec, handler);
        } catch (err) {
          if (!isRetriable(err) || Date.now() > deadline) throw err;
          opts.log.warn('kafka: subscribe failed; retrying', { topic: spec.topic, err: (err as Error).message });
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    },
    async close() {
      for (const consumer of consumers) await consumer.disconnect();
      consumers.clear();
      await producer.disconnect();
    },
  };

  async function subscribeOnce({ topic, group, fromBeginning, commit, awaitDurable }: Parameters<Bus['subscribe']>[0], handler: Parameters<Bus['subscribe']>[1]): Promise<Subscription> {
    const consumer = kafka.consumer({ groupId: group, allowAutoTopicCreation: false });
    consumers.add(consumer);
    let stopping = false;
    let inflight: Promise<void> | undefined;
    /** Handles one message; answers what must be durable before it is committed (awaitDurable), if anything (wrapped: an async function would wait for a promise it returns). */
    const handleOne = async (t: string, partition: number, msg: Message): Promise<Handled | undefined> => {
      // Retry here rather than let kafkajs restart the consumer: the partition waits, nothing is skipped.
      for (;;) {
        try {
          const answer = await handler(msg);
          return awaitDurable && answer ? answer : undefined;
        } catch (err) {
          opts.log.error('bus handler failed; retrying', { topic: t, group, partition, offset: msg.offset, err: (err as Error).message });
          if (stopping) throw new Error('consumer stopping; message left uncommitted for redelivery');
          await new Promise((r) => setTimeout(r, retryMs));
        }
      }
    };
    const commitAfter = (t: string, partition: number, offset: string) => consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(offset) + 1n).toString() }]);
    const handleAndCommit = async (t: string, partition: number, msg: Message) => {
      await (await handleOne(t, partition, msg))?.durable;
      await commitAfter(t, partition, msg.offset);
    };
    /**
     * commit 'batch': the commit of the batch before, still under way while this one is handled (a
     * broker round trip the consumer does not wait for; at most one outstanding, so commits stay in
     * order). A commit that fails leaves its messages to be redelivered.
     */
    let committing: Promise<void> = Promise.resolve();
    const commitBehind = async (t: string, partition: number, offset: string, durable: Promise<unknown>) => {
      await committing;
      // Under awaitDurable the commit waits for the batch's messages to be stored (a crash before redelivers them).
      committing = durable
        .then(() => commitAfter(t, partition, offset))
        .catch((err: unknown) => opts.log.warn('kafka: a commit failed; its messages will be delivered again', { topic: t, group, partition, offset, err: (err as Error).message }));
    };
    /** commit 'batch': the batch's messages in order, then one commit of the last handled (also when stop() cuts the batch short). */
    const handleBatch = async ({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload) => {
      let last: string | undefined;
      const durables: Promise<void>[] = [];
      try {
        for (const message of batch.messages) {
          // Stopping, or the partition was taken away (a rebalance): the rest is left for redelivery.
          if (stopping || !isRunning() || isStale()) break;
          const handled = await handleOne(batch.topic, batch.partition, toMessage(batch.topic, batch.partition, message));
          if (handled) durables.push(handled.durable);
          // Resolved: the next fetch starts after it (without, kafkajs fetches the batch again).
          resolveOffset(message.offset);
          last = message.offset;
        }
      } finally {
        if (last !== undefined) await commitBehind(batch.topic, batch.partition, last, Promise.all(durables));
      }
      await heartbeat();
    };
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: fromBeginning ?? false });
      const track = async (work: Promise<void>) => {
        inflight = work;
        try {
          await work;
        } finally {
          inflight = undefined;
        }
      };
      await consumer.run(
        commit === 'batch'
          ? {
              autoCommit: false,
              eachBatchAutoResolve: false,
              eachBatch: async (payload) => {
                if (stopping) throw new Error('consumer stopping');
                await track(handleBatch(payload));
              },
            }
          : {
              autoCommit: false,
              eachMessage: async ({ topic: t, partition, message }) => {
                // After stop() began, nothing new is handled: it stays uncommitted and is redelivered later.
                if (stopping) throw new Error('consumer stopping');
                await track(handleAndCommit(t, partition, toMessage(t, partition, message)));
              },
            },
      );
    } catch (err) {
      consumers.delete(consumer);
      await consumer.disconnect().catch((e: unknown) => opts.log.warn('kafka: disconnect after a failed subscribe', { err: (e as Error).message }));
      throw err;
    }
    return {
      async stop() {
        if (stopping) return; // stopping twice is harmless
        stopping = true;
        consumer.pause([{ topic }]);
        // The message being handled finishes and is committed before the consumer leaves.
        await inflight?.catch((err: unknown) => opts.log.warn('in-flight message not committed at stop', { err: (err as Error).message }));
        await committing;
        consumers.delete(consumer);
        await consumer.disconnect();
      },
    };
  }
}

function toMessage(topic: string, partition: number, message: KafkaMessage): Message {
  return {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString('utf8') ?? '',
    value: message.value?.toString('utf8') ?? '',
    headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Array.isArray(v) ? String(v[0] ?? '') : String(v ?? '')])),
  };
}

/** Kafka's own verdict (a protocol error marked retriable), or kafkajs giving up on one. */
function isRetriable(err: unknown): boolean {
  const e = err as { retriable?: boolean; name?: string; cause?: unknown };
  if (e.retriable === true) return true;
  if (e.name === 'KafkaJSNumberOfRetriesExceeded' || e.name === 'KafkaJSConnectionError') return true;
  return e.cause !== undefined && e.cause !== err && isRetriable(e.cause);
}

/** Until every partition of the topics has a leader (bounded: 60 s, then the error goes up). */
async function waitForLeaders(admin: Admin, topics: string[], log: Logger): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics });
      if (found.length === topics.length && found.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      log.debug('kafka: topic metadata not ready yet', { topics, err: (err as Error).message });
    }
    if (Date.now() > deadline) throw new Error(`kafka: topics ${topics.join(', ')} have partitions without a leader after 60 s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}
