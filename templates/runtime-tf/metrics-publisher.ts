import type { JobEnv } from './job-env.js';
import { backoffMs, callPlatform, OUTAGE_MS, Refused } from './platform-client.js';

/** One JobMetrics (docs/api.md#job-metrics) as a script reports it; user and name come from the job's environment. */
export interface EpochMetrics {
  epoch: number;
  accuracy: number;
  loss: number;
  /** 0–100 (100 = finished; −1 = failed). */
  progress: number;
}

export interface MetricsPublisher {
  publish(m: EpochMetrics): Promise<void>;
  /** Several in order, in one request (at most MAX_BATCH); where absent, buffered() sends one at a time. */
  publishBatch?(ms: EpochMetrics[]): Promise<void>;
  close(): Promise<void>;
}

/** At most this many JobMetrics per POST: the platform's bound for the batch form. */
export const MAX_BATCH = 1000;
/** Epochs 0 … MAX_EPOCHS − 1, the platform's bound. Checked here because one bad metric would make the platform refuse the whole batch it travels in. */
export const MAX_EPOCHS = 10_000;

export function checkMetrics(m: EpochMetrics): void {
  if (!Number.isInteger(m.epoch) || m.epoch < 0 || m.epoch >= MAX_EPOCHS) throw new TypeError(`epoch must be an integer from 0 to ${MAX_EPOCHS - 1}, got ${String(m.epoch)}`);
  if (typeof m.accuracy !== 'number' || !Number.isFinite(m.accuracy)) throw new TypeError(`accuracy must be a finite number, got ${String(m.accuracy)}`);
  if (typeof m.loss !== 'number' || !Number.isFinite(m.loss)) throw new TypeError(`loss must be a finite number, got ${String(m.loss)}`);
  if (!Number.isInteger(m.progress) || m.progress < -1 || m.progress > 100) throw new TypeError(`progress must be an integer from -1 to 100, got ${String(m.progress)}`);
}

/**
 * POST …/job_metrics/{job} with the job token: a job never reaches the bus itself, the platform
 * puts the metric there under the identity the token proves. Through a bounded buffer, so a short
 * outage neither ends the job nor loses its metrics.
 */
export function createMetricsPublisher(env: JobEnv): MetricsPublisher {
  return buffered(httpPublisher(env));
}

/** At most this many metrics wait while the platform cannot be reached; beyond, the oldest are dropped (said on stderr). */
export const BUFFER_LIMIT = 10_000;

interface Pending {
  m: EpochMetrics;
  /** The caller still awaits this one (until it is sent, refused, or a fault leaves it buffered). */
  settle?: { resolve: () => void; reject: (err: Error) => void };
}

/**
 * Sends metrics in order: what waited while a request was in flight (or through a fault) goes
 * together in the next one, up to MAX_BATCH per request, when the inner publisher takes batches.
 * While all is well, publish() resolves once its metric is sent and rejects if the platform
 * refuses it (403: the caller's mistake; a refused batch is refused for each of its metrics). On
 * a fault (network, 5xx, broker) the metrics stay in the buffer and publish() resolves at once:
 * the job goes on, and the buffer is retried with backoff (250 ms doubling to 5 s) until the
 * platform is back, or for OUTAGE_MS at most (then what waits is dropped, said on stderr).
 * close() waits for the buffer.
 */
export function buffered(inner: MetricsPublisher, limit = BUFFER_LIMIT, outageMs = OUTAGE_MS): MetricsPublisher {
  const queue: Pending[] = [];
  let flushing: Promise<void> | undefined;
  let outage = false; // a fault is being retried: publish() does not wait
  const say = (line: string) => process.stderr.write(`@mlp/runtime: ${line}\n`);
  const release = () => {
    for (const p of queue) p.settle?.resolve();
    for (const p of queue) delete p.settle;
  };
  const flush = async () => {
    let faults = 0;
    let since = 0;
    while (queue.length > 0) {
      // Out of the queue while in flight: a full buffer drops the oldest waiting, never these.
      const batch = queue.splice(0, inner.publishBatch ? MAX_BATCH : 1);
      try {
        const [first] = batch;
        if (batch.length === 1 && first) await inner.publish(first.m);
        else await inner.publishBatch?.(batch.map((p) => p.m));
        for (const p of batch) p.settle?.resolve();
        if (faults > 0) say(`the platform is reachable again: metrics are flowing (${queue.length} still buffered)`);
        faults = 0;
        outage = false;
      } catch (err) {
        if (err instanceof Refused) {
          const unawaited = batch.filter((p) => !p.settle);
          for (const p of batch) p.settle?.reject(err);
          if (unawaited.length === 1) say(`a buffered metric (epoch ${unawaited[0]?.m.epoch}) was refused: ${err.message}`);
          else if (unawaited.length > 1) say(`${unawaited.length} buffered metrics (epochs ${unawaited[0]?.m.epoch}–${unawaited.at(-1)?.m.epoch}) were refused: ${err.message}`);
          continue;
        }
        // Back at the head, in order; past the bound the oldest go (they are no longer in flight).
        queue.unshift(...batch);
        while (queue.length > limit) {
          const dropped = queue.shift() as Pending;
          dropped.settle?.resolve();
          say(`metrics buffer full (${limit}): dropped epoch ${dropped.m.epoch}`);
        }
        faults += 1;
        outage = true;
        if (faults === 1) {
          since = Date.now();
          say(`publishing metrics failed (${(err as Error).message}); buffering up to ${limit} and retrying`);
        }
        release(); // the job goes on; its metrics wait here
        if (Date.now() - since > outageMs) {
          say(`the platform was unreachable for ${Math.round(outageMs / 1000)} s: ${queue.length} metrics dropped`);
          queue.length = 0;
          outage = false;
          return;
        }
        await new Promise((r) => setTimeout(r, backoffMs(faults)));
      }
    }
  };
  return {
    publish(m) {
      const done = outage ? (queue.push({ m }), Promise.resolve()) : new Promise<void>((resolve, reject) => queue.push({ m, settle: { resolve, reject } }));
      if (queue.length > limit) {
        const dropped = queue.shift() as Pending;
        dropped.settle?.resolve();
        say(`metrics buffer full (${limit}): dropped epoch ${dropped.m.epoch}`);
      }
      flushing ??= flush().finally(() => (flushing = undefined));
      return done;
    },
    async close() {
      await flushing;
      await inner.close();
    },
  };
}

function httpPublisher(env: JobEnv): MetricsPublisher {
  const url = `/api/v1/users/${env.user}/job_metrics/${env.job}`;
  const body = (m: EpochMetrics) => ({ epoch: m.epoch, accuracy: m.accuracy, loss: m.loss, progress: m.progress });
  return {
    // One attempt: the buffer retries. One metric as an object, several as an array (the batch form).
    publish: (m) => callPlatform(env, 'POST', url, body(m), 0),
    publishBatch: (ms) => callPlatform(env, 'POST', url, ms.map(body), 0),
    close: async () => undefined,
  };
}
