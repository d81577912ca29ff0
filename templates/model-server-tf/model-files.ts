import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Backend } from './predictor.js';

/** Why a model folder cannot be served, said plainly (the server exits with it). */
export class ModelLoadError extends Error {}

/** A model no retry can serve (the server exits with UNSERVABLE_EXIT). */
export class UnservableModel extends ModelLoadError {}

/** What a model folder must hold, said when it holds neither. */
export const MODEL_FILES = 'a model server needs model.onnx (an ONNX model) or model.json and its weight files (a TensorFlow.js layers model)';

/**
 * The backend of the model in `dir`: model.onnx runs on ONNX Runtime, else model.json on tfjs.
 * Each runtime is imported only when its model is served (a server holds one of them in memory).
 */
export async function loadBackend(dir: string): Promise<Backend> {
  if (existsSync(path.join(dir, 'model.onnx'))) {
    // Telemetry off, as ORT_TELEMETRY_OFF in shared/runtimes/catalog.ts says; written out here
    // because a sandboxed server sees templates/ only. The library reads it as it loads.
    process.env.ORT_DISABLE_TELEMETRY = '1';
    const { onnxBackend } = await import('./backend-onnx.js');
    return onnxBackend(path.join(dir, 'model.onnx'));
  }
  if (existsSync(path.join(dir, 'model.json'))) {
    const [tf, { loadModelFromFolder }, { tfjsBackend }] = await Promise.all([import('@tensorflow/tfjs'), import('./load-model.js'), import('./backend-tfjs.js')]);
    // Production mode: no debug checks, and none of tfjs's "install tfjs-node" banner in the log.
    tf.enableProdMode();
    return tfjsBackend(await loadModelFromFolder(dir));
  }
  throw new UnservableModel(`${dir} holds neither model.onnx nor model.json: ${MODEL_FILES}`);
}
