import * as tf from '@tensorflow/tfjs';
import { jsonValues, type Backend, type DType, type Feed, type Result, type TensorSpec } from './predictor.js';

/** A tfjs layers model as a backend: inputs are fed as float32 (int32 where the model says so). */
export function tfjsBackend(model: tf.LayersModel): Backend {
  const dtypeOf = (t: tf.DataType): DType => (t === 'int32' ? 'int32' : t === 'bool' ? 'bool' : t === 'string' ? 'string' : 'float32');
  // Named by their layers, as Keras signatures are (a Sequential's input is "{first layer}_input").
  const spec = (t: tf.SymbolicTensor, input: boolean): TensorSpec => ({
    name: t.sourceLayer.name,
    shape: [...t.shape],
    dtype: input ? (t.dtype === 'int32' ? 'int32' : 'float32') : dtypeOf(t.dtype),
  });
  const inputs = model.inputs.map((t) => spec(t, true));
  const outputs = model.outputs.map((t) => spec(t, false));
  return {
    platform: 'tensorflowjs_layers',
    inputs,
    outputs,
    async run(feeds: Feed[], wanted?: string[]): Promise<Result[]> {
      const ys = tf.tidy(() => {
        const xs = feeds.map((f, k) => tf.tensor(f.values as number[], f.shape, inputs[k]!.dtype === 'int32' ? 'int32' : 'float32'));
        const y = model.predict(xs.length === 1 ? (xs[0] as tf.Tensor) : xs);
        return Array.isArray(y) ? y : [y];
      });
      try {
        const all = ys.map((y, k): Result => {
          const dtype = dtypeOf(y.dtype);
          return { name: outputs[k]!.name, dtype, shape: [...y.shape], values: jsonValues(y.dataSync() as ArrayLike<number>, dtype) };
        });
        return wanted ? wanted.map((name) => all.find((r) => r.name === name)!) : all;
      } finally {
        for (const y of ys) y.dispose();
      }
    },
  };
}
