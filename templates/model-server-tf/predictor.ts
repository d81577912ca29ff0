import * as tf from '@tensorflow/tfjs';

/** A request the server refuses (403 {msg}); anything else thrown is a fault (503). */
export class BadRequest extends Error {}

export interface TensorSpec {
  name: string;
  /** With the batch dimension first; null where any size goes. */
  shape: (number | null)[];
  dtype: tf.DataType;
}

export const SIGNATURE = 'serving_default';
const FIELDS = new Set(['instances', 'inputs', 'signature_name']);

type Nested = number | Nested[];

/**
 * TensorFlow-Serving's predict API over a layers model: the row form ({instances} →
 * {predictions}) and the columnar form ({inputs} → {outputs}). What can be known of the model
 * (names, shapes) is computed once here, so a request costs its parsing and the predict itself.
 */
export function createPredictor(model: tf.LayersModel) {
  // Named by their layers, as Keras signatures are (a Sequential's input is "{first layer}_input").
  const spec = (t: tf.SymbolicTensor): TensorSpec => ({ name: t.sourceLayer.name, shape: t.shape, dtype: t.dtype });
  const inputs = model.inputs.map(spec);
  const outputs = model.outputs.map(spec);
  const inputNames = inputs.map((s) => s.name);

  const run = (feeds: { spec: TensorSpec; values: number[]; shape: number[] }[]): unknown[] => {
    const ys = tf.tidy(() => {
      const xs = feeds.map((f) => tf.tensor(f.values, f.shape, f.spec.dtype === 'int32' ? 'int32' : 'float32'));
      const y = model.predict(xs.length === 1 ? (xs[0] as tf.Tensor) : xs);
      return Array.isArray(y) ? y : [y];
    });
    try {
      return ys.map((y) => y.arraySync());
    } finally {
      for (const y of ys) y.dispose();
    }
  };

  /** One input's value of one request, by the model's input names (a single input may come bare). */
  const byInput = (value: unknown, where: string): unknown[] => {
    if (inputs.length === 1 && !isPlainObject(value)) return [value];
    if (!isPlainObject(value)) throw new BadRequest(`${where} must be an object with the inputs ${inputNames.join(', ')}`);
    const keys = Object.keys(value);
    for (const k of keys) if (!inputNames.includes(k)) throw new BadRequest(`${where} has an unknown input "${k}"; the model's inputs are ${inputNames.join(', ')}`);
    return inputs.map((s) => {
      if (!(s.name in value)) throw new BadRequest(`${where} lacks the input "${s.name}"`);
      return value[s.name];
    });
  };

  const rows = (instances: unknown): unknown => {
    if (!Array.isArray(instances)) throw new BadRequest('"instances" must be a list, one entry per example');
    if (instances.length === 0) throw new BadRequest('"instances" is empty');
    const feeds = inputs.map((spec) => ({ spec, values: [] as number[], shape: [instances.length] as number[], example: undefined as number[] | undefined }));
    instances.forEach((instance, i) => {
      byInput(instance, `instance ${i}`).forEach((value, k) => {
        const feed = feeds[k]!;
        const dims = dimsOf(value);
        checkShape(dims, feed.spec.shape.slice(1), `instance ${i}${inputs.length > 1 ? ` input "${feed.spec.name}"` : ''}`, feed.spec.shape);
        if (feed.example && dims.join() !== feed.example.join()) throw new BadRequest(`instance ${i} has shape [${dims.join(', ')}] but instance 0 has [${feed.example.join(', ')}]`);
        feed.example ??= dims;
        flatten(value as Nested, dims, 0, feed.values, `instance ${i}`, feed.spec.dtype);
      });
    });
    const ys = run(feeds.map((f) => ({ spec: f.spec, values: f.values, shape: [instances.length, ...(f.example ?? [])] })));
    if (ys.length === 1) return { predictions: ys[0] };
    return { predictions: instances.map((_, i) => Object.fromEntries(outputs.map((o, k) => [o.name, (ys[k] as unknown[])[i]]))) };
  };

  const columns = (given: unknown): unknown => {
    const values = byInput(given, '"inputs"');
    let batch: number | undefined;
    const feeds = values.map((value, k) => {
      const spec = inputs[k]!;
      const where = inputs.length > 1 ? `input "${spec.name}"` : '"inputs"';
      const dims = dimsOf(value);
      if (dims.length === 0) throw new BadRequest(`${where} must be a list of examples (shape [batch, ...])`);
      if (dims[0] === 0) throw new BadRequest(`${where} is empty`);
      checkShape(dims, spec.shape, where, spec.shape);
      if (batch !== undefined && dims[0] !== batch) throw new BadRequest(`${where} has ${dims[0]} examples but the first input has ${batch}`);
      batch = dims[0];
      const flat: number[] = [];
      flatten(value as Nested, dims, 0, flat, where, spec.dtype);
      return { spec, values: flat, shape: dims };
    });
    const ys = run(feeds);
    if (ys.length === 1) return { outputs: ys[0] };
    return { outputs: Object.fromEntries(outputs.map((o, k) => [o.name, ys[k]])) };
  };

  return {
    inputs,
    outputs,
    /** A parsed JSON body of :predict → the answer body; BadRequest for what the model cannot take. */
    predict(body: unknown): unknown {
      if (!isPlainObject(body)) throw new BadRequest('the body must be a JSON object with "instances" or "inputs"');
      for (const k of Object.keys(body)) if (!FIELDS.has(k)) throw new BadRequest(`unknown field "${k}"; a predict request has "instances" or "inputs", and optionally "signature_name"`);
      const signature = body.signature_name;
      if (signature !== undefined && signature !== SIGNATURE) {
        throw new BadRequest(typeof signature === 'string' ? `signature "${signature}" not found; this model has "${SIGNATURE}"` : '"signature_name" must be a string');
      }
      const hasRows = 'instances' in body;
      if (hasRows === 'inputs' in body) throw new BadRequest(hasRows ? 'give either "instances" (row form) or "inputs" (columnar form), not both' : 'the body needs "instances" (row form) or "inputs" (columnar form)');
      return hasRows ? rows(body.instances) : columns(body.inputs);
    },
    /** TF-Serving's GET /v1/models/{model}/metadata body. */
    metadata(name: string): unknown {
      const info = (s: TensorSpec) => ({
        dtype: `DT_${s.dtype === 'float32' ? 'FLOAT' : s.dtype.toUpperCase()}`,
        tensor_shape: { dim: s.shape.map((d) => ({ size: String(d ?? -1), name: '' })), unknown_rank: false },
        name: s.name,
      });
      const signature = {
        inputs: Object.fromEntries(inputs.map((s) => [s.name, info(s)])),
        outputs: Object.fromEntries(outputs.map((s) => [s.name, info(s)])),
        method_name: 'tensorflow/serving/predict',
      };
      return { model_spec: { name, signature_name: '', version: '1' }, metadata: { signature_def: { signature_def: { [SIGNATURE]: signature } } } };
    },
  };
}

export type Predictor = ReturnType<typeof createPredictor>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The shape a nested list claims by its first elements; flatten() checks that the rest agree. */
function dimsOf(value: unknown): number[] {
  const dims: number[] = [];
  let v = value;
  while (Array.isArray(v)) {
    dims.push(v.length);
    v = v[0];
  }
  return dims;
}

function checkShape(dims: number[], expected: (number | null)[], where: string, full: (number | null)[]): void {
  const fits = dims.length === expected.length && expected.every((d, i) => d === null || d === dims[i]);
  if (!fits) throw new BadRequest(`${where} has shape [${dims.join(', ')}]; the model takes [${expected.map((d) => d ?? 'any').join(', ')}] (input shape [${full.map((d) => d ?? 'batch').join(', ')}])`);
}

function flatten(value: Nested, dims: number[], depth: number, out: number[], where: string, dtype: tf.DataType): void {
  if (depth === dims.length) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadRequest(`${where} holds ${(JSON.stringify(value) ?? typeof value).slice(0, 40)} where a number is expected`);
    if (dtype === 'int32' && !Number.isInteger(value)) throw new BadRequest(`${where} holds ${value} where the model takes integers`);
    out.push(value);
    return;
  }
  if (!Array.isArray(value) || value.length !== dims[depth]) throw new BadRequest(`${where} is not a regular tensor: lists at depth ${depth + 1} must all have ${dims[depth]} entries`);
  for (const v of value) flatten(v, dims, depth + 1, out, where, dtype);
}
