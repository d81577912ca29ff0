import path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { folderSaveHandler, MODEL_JSON, WEIGHTS_BIN } from './checkpoint.js';
import { readJobEnv, workspaceDir, type JobEnv } from './job-env.js';
import { createMetricsPublisher, checkMetrics, type EpochMetrics, type MetricsPublisher } from './metrics-publisher.js';
import { callPlatform } from './platform-client.js';

// `@mlp/runtime`: what a training script of runtime tf imports (the job's resolve hook maps the
// name here). Outside the platform (no MLP_* variables) metrics and heartbeats are only printed,
// so the same script runs on a laptop.
export type { EpochMetrics } from './metrics-publisher.js';
export { datasetPath } from './job-env.js';
export { homePath, params, resumePath } from './job-inputs.js';
export { Refused } from './platform-client.js';

let env: JobEnv | undefined | null = null;
let publisher: MetricsPublisher | undefined;
const jobEnv = (): JobEnv | undefined => (env === null ? (env = readJobEnv()) : env);

/** Publishes one JobMetrics by POST …/job_metrics/{job}; the platform puts it on the bus. */
export async function publishMetrics(m: EpochMetrics): Promise<void> {
  checkMetrics(m);
  process.stdout.write(`epoch ${m.epoch} accuracy ${m.accuracy} loss ${m.loss} progress ${m.progress}\n`);
  const e = jobEnv();
  if (!e) return;
  publisher ??= createMetricsPublisher(e);
  await publisher.publish(m);
}

/**
 * Reports progress (PUT …/jobs/{job}:heartbeat). `finished` or `error` ends the job: the
 * platform then stops the process, so send them last, if at all (exit 0 means finished).
 */
export async function heartbeat(progress: number, state: 'running' | 'finished' | 'error' = 'running'): Promise<void> {
  if (!Number.isInteger(progress) || progress < 0 || progress > 100) throw new TypeError(`progress must be an integer from 0 to 100, got ${String(progress)}`);
  const e = jobEnv();
  if (!e) return;
  await callPlatform(e, 'PUT', `/api/v1/users/${e.user}/jobs/${e.job}:heartbeat`, { state, progress });
}

export interface SavedModel {
  dir: string;
  files: string[];
}

/**
 * Writes a layers model to `dir` (default `$MLP_WORKSPACE/ckpt`) as model.json + weights.bin,
 * the folder a model is created from (docs/api.md#models) and the model server loads.
 */
export async function saveModel(model: Pick<tf.LayersModel, 'save'>, dir = path.join(workspaceDir(), 'ckpt')): Promise<SavedModel> {
  await model.save(folderSaveHandler(dir));
  return { dir, files: [MODEL_JSON, WEIGHTS_BIN] };
}

export interface TrainingCallbackOptions {
  /** The `epochs` given to fit, to compute progress. */
  epochs: number;
  /** Which fit log gives accuracy and loss (defaults `acc`, then `accuracy`; `loss`). */
  accuracyKey?: string;
  lossKey?: string;
  /** Also send a running heartbeat each epoch (default true). */
  heartbeat?: boolean;
}

/**
 * Callbacks for `model.fit(x, y, { epochs, callbacks: trainingCallbacks({ epochs }) })`: after
 * each epoch, publishes accuracy and loss (epochs numbered from 1) and the progress; flushes the
 * metrics when training ends.
 */
export function trainingCallbacks(opts: TrainingCallbackOptions): { onEpochEnd: (epoch: number, logs?: tf.Logs) => Promise<void>; onTrainEnd: () => Promise<void> } {
  if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new TypeError(`epochs must be an integer >= 1, got ${String(opts.epochs)}`);
  return {
    async onEpochEnd(epoch, logs = {}) {
      const accuracyKey = opts.accuracyKey ?? ('acc' in logs ? 'acc' : 'accuracy');
      const lossKey = opts.lossKey ?? 'loss';
      const accuracy = logs[accuracyKey];
      const loss = logs[lossKey];
      if (accuracy === undefined) throw new Error(`the fit logs have no "${accuracyKey}" (they have ${Object.keys(logs).join(', ') || 'nothing'}): compile the model with metrics: ['accuracy']`);
      if (loss === undefined) throw new Error(`the fit logs have no "${lossKey}"`);
      const progress = Math.min(100, Math.round((100 * (epoch + 1)) / opts.epochs));
      await publishMetrics({ epoch: epoch + 1, accuracy, loss, progress });
      if (opts.heartbeat ?? true) await heartbeat(progress);
    },
    onTrainEnd: close,
  };
}

/** Sends what is buffered; publishing again starts a new buffer. */
export async function close(): Promise<void> {
  const current = publisher;
  publisher = undefined;
  await current?.close();
}
