import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelLoadError } from './model-files.js';

export { ModelLoadError };

/**
 * A load handler reading a layers model from a folder: model.json and the weight files its
 * manifest names (pure tfjs has no file:// handler in Node). Weight paths must stay inside
 * the folder.
 */
export function folderLoadHandler(dir: string): tf.io.IOHandler {
  return {
    async load() {
      const jsonPath = path.join(dir, 'model.json');
      let text: string;
      try {
        text = await readFile(jsonPath, 'utf8');
      } catch (err) {
        throw new ModelLoadError(`cannot read ${jsonPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(text) as tf.io.ModelJSON;
      } catch (err) {
        throw new ModelLoadError(`${jsonPath} is not JSON: ${(err as Error).message}`);
      }
      if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
        throw new ModelLoadError(`${jsonPath} has no modelTopology: not a TensorFlow.js layers model`);
      }
      if (!Array.isArray(json.weightsManifest)) throw new ModelLoadError(`${jsonPath} has no weightsManifest`);
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const buffers: Buffer[] = [];
        for (const group of manifest) {
          for (const file of group.paths) {
            const full = path.resolve(dir, file);
            if (path.relative(dir, full).startsWith('..') || path.isAbsolute(file)) throw new ModelLoadError(`weights path ${file} leaves the model folder`);
            try {
              buffers.push(await readFile(full));
            } catch (err) {
              throw new ModelLoadError(`cannot read weights ${full}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
            }
          }
        }
        const all = Buffer.concat(buffers);
        return [manifest.flatMap((g) => g.weights), all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength)];
      });
    },
  };
}

/** Loads the layers model in `dir`; any problem becomes a ModelLoadError naming the folder. */
export async function loadModelFromFolder(dir: string): Promise<tf.LayersModel> {
  try {
    return await tf.loadLayersModel(folderLoadHandler(dir));
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(`the model in ${dir} cannot be loaded: ${(err as Error).message}`);
  }
}
