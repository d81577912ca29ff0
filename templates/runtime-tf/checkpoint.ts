import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/**
 * A save handler writing the TensorFlow.js layers format to a folder: model.json (topology and
 * weights manifest) and one weights.bin, as tf.io's file handlers would. Pure tfjs has no
 * file:// handler in Node, hence this one. Files are written under temporary names and renamed,
 * model.json last, so a reader never sees a model.json without its weights.
 */
export function folderSaveHandler(dir: string): tf.io.IOHandler {
  return tf.io.withSaveHandler(async (artifacts) => {
    if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('saveModel writes layers models (JSON topology), not binary graph models');
    const weights =
      artifacts.weightData === undefined ? Buffer.alloc(0) : Buffer.concat((Array.isArray(artifacts.weightData) ? artifacts.weightData : [artifacts.weightData]).map((b) => Buffer.from(b)));
    const modelJson: tf.io.ModelJSON = {
      modelTopology: artifacts.modelTopology ?? {},
      weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
      format: artifacts.format ?? 'layers-model',
      generatedBy: artifacts.generatedBy ?? 'TensorFlow.js',
      convertedBy: artifacts.convertedBy ?? null,
      ...(artifacts.trainingConfig ? { trainingConfig: artifacts.trainingConfig } : {}),
      ...(artifacts.userDefinedMetadata ? { userDefinedMetadata: artifacts.userDefinedMetadata } : {}),
      ...(artifacts.signature ? { signature: artifacts.signature } : {}),
    };
    await mkdir(dir, { recursive: true });
    const tmp = `.tmp-${process.pid}-${Date.now().toString(36)}`;
    await writeFile(path.join(dir, WEIGHTS_BIN + tmp), weights);
    await writeFile(path.join(dir, MODEL_JSON + tmp), JSON.stringify(modelJson));
    await rename(path.join(dir, WEIGHTS_BIN + tmp), path.join(dir, WEIGHTS_BIN));
    await rename(path.join(dir, MODEL_JSON + tmp), path.join(dir, MODEL_JSON));
    return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
  });
}
