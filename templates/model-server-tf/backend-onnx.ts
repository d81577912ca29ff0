import * as ort from 'onnxruntime-node';
import { ModelLoadError, UnservableModel } from './model-files.js';
import { isDType, jsonValues, TYPES, type Backend, type DType, type Feed, type Result, type TensorSpec } from './predictor.js';

/**
 * An ONNX model (model.onnx) as a backend, run by ONNX Runtime on the CPU. Its signature is the
 * session's: names, element types and shapes, where a named or unnamed free dimension ("N", -1)
 * takes any size.
 */
export async function onnxBackend(file: string): Promise<Backend> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  } catch (err) {
    throw new ModelLoadError(`${file} cannot be loaded by ONNX Runtime: ${(err as Error).message}`);
  }
  const taken = Object.keys(TYPES).join(', ');
  const spec = (m: ort.InferenceSession.ValueMetadata, io: 'input' | 'output'): TensorSpec => {
    if (!m.isTensor)
      throw new UnservableModel(
        `the model's ${io} ${m.name} is not a tensor (a sequence or map, such as the ZipMap skl2onnx adds to classifiers unless converted with options {zipmap: False}); the model server serves tensors`,
      );
    if (!isDType(m.type)) throw new UnservableModel(`the model's ${io} ${m.name} has type ${m.type}, which the model server does not serve (it serves ${taken})`);
    return {
      name: m.name,
      dtype: m.type,
      shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : null)),
      dimNames: m.shape.map((d) => (typeof d === 'string' && d !== '' ? d : null)),
    };
  };
  const inputs = session.inputMetadata.map((m) => spec(m, 'input'));
  const outputs = session.outputMetadata.map((m) => spec(m, 'output'));
  const outputNames = outputs.map((o) => o.name);
  return {
    platform: 'onnxruntime_onnx',
    inputs,
    outputs,
    async run(feeds: Feed[], wanted?: string[]): Promise<Result[]> {
      const given: Record<string, ort.Tensor> = {};
      feeds.forEach((f, k) => (given[f.name] = tensorOf(inputs[k]!.dtype, f)));
      const names = wanted ?? outputNames;
      const ys = await session.run(given, names);
      return names.map((name) => {
        const y = ys[name];
        if (!y) throw new Error(`ONNX Runtime answered no output ${name}`);
        if (!isDType(y.type)) throw new Error(`ONNX Runtime answered output ${name} of type ${y.type}`);
        return { name, dtype: y.type, shape: [...y.dims], values: jsonValues(y.data as ArrayLike<number | bigint | string>, y.type) };
      });
    },
  };
}

function tensorOf(dtype: DType, f: Feed): ort.Tensor {
  const v = f.values;
  const numbers = v as number[];
  switch (dtype) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(numbers), f.shape);
    case 'float64':
      return new ort.Tensor('float64', Float64Array.from(numbers), f.shape);
    case 'int8':
      return new ort.Tensor('int8', Int8Array.from(numbers), f.shape);
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from(numbers), f.shape);
    case 'int16':
      return new ort.Tensor('int16', Int16Array.from(numbers), f.shape);
    case 'uint16':
      return new ort.Tensor('uint16', Uint16Array.from(numbers), f.shape);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(numbers), f.shape);
    case 'uint32':
      return new ort.Tensor('uint32', Uint32Array.from(numbers), f.shape);
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(numbers, (n) => BigInt(n)),
        f.shape,
      );
    case 'uint64':
      return new ort.Tensor(
        'uint64',
        BigUint64Array.from(numbers, (n) => BigInt(n)),
        f.shape,
      );
    case 'bool':
      return new ort.Tensor(
        'bool',
        Uint8Array.from(v, (b) => (b ? 1 : 0)),
        f.shape,
      );
    case 'string':
      return new ort.Tensor('string', v as string[], f.shape);
  }
}
