import type { Producer } from 'kafkajs';
import type { JobEnv } from './job-env.js';
import { callPlatform } from './platform-client.js';

/** One JobMetrics (API.md §6) as a script reports it; user and name come from the job's environment. */
export interface EpochMetrics {
  epoch: number;
  accuracy: number;
  loss: number;
  /** 0–100 (100 = finished; −1 = failed). */
  progress: number;
}

export interface MetricsPublisher {
  publish(m: EpochMetrics): Promise<void>;
  close(): Promise<void>;
}

// A connected Kafka producer keeps the process alive; scripts that forget close() must still
// end, so it disconnects after this long without a metric.
const KAFKA_IDLE_MS = 2000;

export function checkMetrics(m: EpochMetrics): void {
  if (!Number.isInteger(m.epoch) || m.epoch < 0) throw new TypeError(`epoch must be an integer >= 0, got ${String(m.epoch)}`);
  if (typeof m.accuracy !== 'number' || !Number.isFinite(m.accuracy)) throw new TypeError(`accuracy must be a finite number, got ${String(m.accuracy)}`);
  if (typeof m.loss !== 'number' || !Number.isFinite(m.loss)) throw new TypeError(`loss must be a finite number, got ${String(m.loss)}`);
  if (!Number.isInteger(m.progress) || m.progress < -1 || m.progress > 100) throw new TypeError(`progress must be an integer from -1 to 100, got ${String(m.progress)}`);
}

/** Kafka when the job was given brokers (key user/job, header mlp-job-id), else POST …/job_metrics/{job}. */
export function createMetricsPublisher(env: JobEnv): MetricsPublisher {
  return env.kafka ? kafkaPublisher(env, env.kafka) : httpPublisher(env);
}

function httpPublisher(env: JobEnv): MetricsPublisher {
  return {
    publish: (m) => callPlatform(env, 'POST', `/api/v1/users/${env.user}/job_metrics/${env.job}`, { epoch: m.epoch, accuracy: m.accuracy, loss: m.loss, progress: m.progress }),
    close: async () => undefined,
  };
}

function kafkaPublisher(env: JobEnv, kafka: { brokers: string[]; topic: string }): MetricsPublisher {
  let producer: Promise<Producer> | undefined;
  let idle: NodeJS.Timeout | undefined;
  const connect = async (): Promise<Producer> => {
    const { Kafka, logLevel } = await import('kafkajs');
    const p = new Kafka({ clientId: `mlp-job-${env.user}-${env.job}`, brokers: kafka.brokers, logLevel: logLevel.ERROR }).producer({ allowAutoTopicCreation: false });
    await p.connect();
    return p;
  };
  const close = async () => {
    clearTimeout(idle);
    const current = producer;
    producer = undefined;
    if (current) await (await current).disconnect();
  };
  return {
    async publish(m) {
      clearTimeout(idle);
      producer ??= connect();
      let p: Producer;
      try {
        p = await producer;
      } catch (err) {
        producer = undefined; // the next metric tries to connect again
        throw err;
      }
      const value = JSON.stringify({ user: env.user, name: env.job, epoch: m.epoch, accuracy: m.accuracy, loss: m.loss, progress: m.progress });
      await p.send({ topic: kafka.topic, acks: -1, messages: [{ key: `${env.user}/${env.job}`, value, headers: { 'mlp-job-id': env.jobId } }] });
      idle = setTimeout(() => {
        close().catch((err: unknown) => process.stderr.write(`@mlp/runtime: closing the Kafka producer failed: ${(err as Error).message}\n`));
      }, KAFKA_IDLE_MS);
    },
    close,
  };
}
