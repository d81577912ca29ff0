/**
 * The Bus port: topics of keyed messages with consumer groups and at-least-once
 * delivery. A message's offset is committed only after its handler has finished,
 * so a crash re-delivers it; handlers must therefore be idempotent.
 */
export interface Message {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
  /** Position in the partition, for logs and idempotence checks. */
  offset: string;
  partition: number;
}

export interface Outgoing {
  key: string;
  value: string;
  headers?: Record<string, string>;
}

export interface SubscribeOptions {
  topic: string;
  group: string;
  fromBeginning?: boolean;
  commit?: 'message' | 'batch';
  awaitDurable?: boolean;
}

/** A handler's answer under `awaitDurable`: settles once the message's effect is stored. */
export interface Handled {
  durable: Promise<void>;
}

export interface Subscription {
  /** Stops consuming after the in-flight message (if any) has been handled and committed. */
  stop(): Promise<void>;
}

export interface Bus {
  readonly kind: string;
  /** Creates the topics if missing. */
  ensureTopics(topics: string[]): Promise<void>;
  /** Resolves once the messages are durably accepted (Kafka: acks from all in-sync replicas). */
  publish(topic: string, messages: Outgoing[]): Promise<void>;
  /**
   * A failing handler is retried with backoff; the offset is not committed until it succeeds.
   * Messages are handled one at a time, in order per partition. `commit: 'batch'` commits once
   * per batch fetched (Kafka), after every message of it was handled, rather than after each:
   * a crash then redelivers up to two batches instead of one message (a batch's commit runs while
   * the next batch is handled); stop() still commits what was handled.
   *
   * `awaitDurable`: the handler may answer `{ durable }`, a promise that settles once what it did
   * with the message is stored (a handler that queues work answers at once, in order, and stores
   * later). The message then counts as handled only once `durable` resolves: it is committed only
   * then (Kafka), and publish() of it resolves only then (the in-process bus, whose messages a
   * crash loses: so an accepted message is a stored one). A `durable` that rejects is not committed.
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that stores nothing later answers nothing, as any async function
  subscribe(opts: SubscribeOptions, handler: (msg: Message) => Promise<void | Handled>): Promise<Subscription>;
  close(): Promise<void>;
}
