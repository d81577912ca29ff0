/** A request the server refuses (403 {msg}); anything else thrown is a fault (503). */
export class BadRequest extends Error {}

/** Element types a backend may take or answer (ONNX Runtime's names; tfjs uses three of them). */
export type DType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'bool' | 'string';

/** What one element type is called by TF-Serving (metadata) and by the Open Inference Protocol, and what JSON value it takes. */
export const TYPES: Record<DType, { tf: string; oip: string; kind: 'float' | 'int' | 'bool' | 'string'; min?: number; max?: number }> = {
  float32: { tf: 'DT_FLOAT', oip: 'FP32', kind: 'float' },
  float64: { tf: 'DT_DOUBLE', oip: 'FP64', kind: 'float' },
  int8: { tf: 'DT_INT8', oip: 'INT8', kind: 'int', min: -128, max: 127 },
  uint8: { tf: 'DT_UINT8', oip: 'UINT8', kind: 'int', min: 0, max: 255 },
  int16: { tf: 'DT_INT16', oip: 'INT16', kind: 'int', min: -32768, max: 32767 },
  uint16: { tf: 'DT_UINT16', oip: 'UINT16', kind: 'int', min: 0, max: 65535 },
  int32: { tf: 'DT_INT32', oip: 'INT32', kind: 'int', min: -2147483648, max: 2147483647 },
  uint32: { tf: 'DT_UINT32', oip: 'UINT32', kind: 'int', min: 0, max: 4294967295 },
  // JSON numbers hold integers exactly up to 2^53: beyond, a value would not be the one sent.
  int64: { tf: 'DT_INT64', oip: 'INT64', kind: 'int', min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER },
  uint64: { tf: 'DT_UINT64', oip: 'UINT64', kind: 'int', min: 0, max: Number.MAX_SAFE_INTEGER },
  bool: { tf: 'DT_BOOL', oip: 'BOOL', kind: 'bool' },
  string: { tf: 'DT_STRING', oip: 'BYTES', kind: 'string' },
};

export const isDType = (t: string): t is DType => Object.hasOwn(TYPES, t);

export type Scalar = number | boolean | string;

export interface TensorSpec {
  name: string;
  /** With the batch dimension first; null where any size goes. */
  shape: (number | null)[];
  dtype: DType;
  /** The model's names of its free dimensions (ONNX's "N", "batch"), null where unnamed: dimensions of one name take one size. */
  dimNames?: (string | null)[];
}

/** One input's values, row-major, with its shape; already checked against the input's spec. */
export interface Feed {
  name: string;
  values: Scalar[];
  shape: number[];
}

/** One output of a run, row-major, as JSON values (int64 as numbers, bool as true/false). */
export interface Result {
  name: string;
  dtype: DType;
  shape: number[];
  values: Scalar[];
}

/**
 * What the TF-Serving and Open Inference Protocol front ends need of a runtime: the model's
 * signature and a run. The tfjs layers and ONNX Runtime backends implement it.
 */
export interface Backend {
  /** The Open Inference Protocol's platform name. */
  platform: 'tensorflowjs_layers' | 'onnxruntime_onnx';
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Feeds in the order of `inputs`; answers the outputs named (all when none are) in that order. */
  run(feeds: Feed[], outputs?: string[]): Promise<Result[]>;
}

export const SIGNATURE = 'serving_default';
const FIELDS = new Set(['instances', 'inputs', 'signature_name']);

/** A shape as the model declares it, -1 for free dimensions (TF-Serving's and the protocol's way). */
export const declared = (shape: (number | null)[]): number[] => shape.map((d) => d ?? -1);
export const showShape = (shape: readonly (number | null)[]): string => `[${shape.map((d) => d ?? -1).join(', ')}]`;

/**
 * TensorFlow-Serving's predict API over a backend: the row form ({instances} → {predictions}) and
 * the columnar form ({inputs} → {outputs}). What can be known of the model (names, shapes) is
 * computed once here, so a request costs its parsing and the run itself.
 */
export function createPredictor(backend: Backend) {
  const { inputs, outputs } = backend;
  const inputNames = inputs.map((s) => s.name);

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

  const rows = async (instances: unknown): Promise<unknown> => {
    if (!Array.isArray(instances)) throw new BadRequest('"instances" must be a list, one entry per example');
    if (instances.length === 0) throw new BadRequest('"instances" is empty');
    for (const spec of inputs) {
      const batch = spec.shape[0];
      if (batch !== null && batch !== undefined && batch !== instances.length) {
        throw new BadRequest(
          `the model takes exactly ${batch} example${batch === 1 ? '' : 's'} a request (input "${spec.name}" has shape ${showShape(spec.shape)}); got ${instances.length} instances`,
        );
      }
    }
    const feeds = inputs.map((spec) => ({ spec, values: [] as Scalar[], example: undefined as number[] | undefined }));
    instances.forEach((instance, i) => {
      byInput(instance, `instance ${i}`).forEach((value, k) => {
        const feed = feeds[k]!;
        const dims = dimsOf(value);
        checkShape(dims, feed.spec.shape.slice(1), `instance ${i}${inputs.length > 1 ? ` input "${feed.spec.name}"` : ''}`, feed.spec.shape);
        if (feed.example && dims.join() !== feed.example.join()) throw new BadRequest(`instance ${i} has shape [${dims.join(', ')}] but instance 0 has [${feed.example.join(', ')}]`);
        feed.example ??= dims;
        flatten(value, dims, 0, feed.values, `instance ${i}`, feed.spec.dtype);
      });
    });
    const given = feeds.map((f) => ({ name: f.spec.name, values: f.values, shape: [instances.length, ...(f.example ?? [])] }));
    checkDimNames(inputs, given);
    const ys = await backend.run(given);
    const perInstance = ys.map((y) => {
      if (y.shape[0] !== instances.length) throw new BadRequest(`the model's output "${y.name}" has shape [${y.shape.join(', ')}], not one entry per instance; use the columnar form ("inputs")`);
      const size = y.shape.slice(1).reduce((n, d) => n * d, 1);
      return instances.map((_, i) => nest(y.values, y.shape.slice(1), i * size));
    });
    if (ys.length === 1) return { predictions: perInstance[0] };
    return { predictions: instances.map((_, i) => Object.fromEntries(ys.map((y, k) => [y.name, perInstance[k]![i]]))) };
  };

  const columns = async (given: unknown): Promise<unknown> => {
    const values = byInput(given, '"inputs"');
    let batch: number | undefined;
    const feeds = values.map((value, k): Feed => {
      const spec = inputs[k]!;
      const where = inputs.length > 1 ? `input "${spec.name}"` : '"inputs"';
      const dims = dimsOf(value);
      if (dims.length === 0) throw new BadRequest(`${where} must be a list of examples (shape [batch, ...])`);
      if (dims[0] === 0) throw new BadRequest(`${where} is empty`);
      checkShape(dims, spec.shape, where, spec.shape);
      if (batch !== undefined && dims[0] !== batch) throw new BadRequest(`${where} has ${dims[0]} examples but the first input has ${batch}`);
      batch = dims[0];
      const flat: Scalar[] = [];
      flatten(value, dims, 0, flat, where, spec.dtype);
      return { name: spec.name, values: flat, shape: dims };
    });
    checkDimNames(inputs, feeds);
    const ys = await backend.run(feeds);
    if (ys.length === 1) return { outputs: nest(ys[0]!.values, ys[0]!.shape, 0) };
    return { outputs: Object.fromEntries(ys.map((y) => [y.name, nest(y.values, y.shape, 0)])) };
  };

  return {
    backend,
    inputs,
    outputs,
    /** A parsed JSON body of :predict → the answer body; BadRequest for what the model cannot take. */
    async predict(body: unknown): Promise<unknown> {
      if (!isPlainObject(body)) throw new BadRequest('the body must be a JSON object with "instances" or "inputs"');
      for (const k of Object.keys(body)) if (!FIELDS.has(k)) throw new BadRequest(`unknown field "${k}"; a predict request has "instances" or "inputs", and optionally "signature_name"`);
      const signature = body.signature_name;
      if (signature !== undefined && signature !== SIGNATURE) {
        throw new BadRequest(typeof signature === 'string' ? `signature "${signature}" not found; this model has "${SIGNATURE}"` : '"signature_name" must be a string');
      }
      const hasRows = 'instances' in body;
      if (hasRows === 'inputs' in body)
        throw new BadRequest(hasRows ? 'give either "instances" (row form) or "inputs" (columnar form), not both' : 'the body needs "instances" (row form) or "inputs" (columnar form)');
      return hasRows ? rows(body.instances) : columns(body.inputs);
    },
    /** TF-Serving's GET /v1/models/{model}/metadata body. */
    metadata(name: string): unknown {
      const info = (s: TensorSpec) => ({
        dtype: TYPES[s.dtype].tf,
        tensor_shape: { dim: declared(s.shape).map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
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

export function isPlainObject(v: unknown): v is Record<string, unknown> {
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
  if (!fits)
    throw new BadRequest(`${where} has shape [${dims.join(', ')}]; the model takes [${expected.map((d) => d ?? 'any').join(', ')}] (input shape [${full.map((d) => d ?? 'batch').join(', ')}])`);
}

/** Free dimensions the model names alike (ONNX's "N" of every input) must have one size across the inputs. */
export function checkDimNames(specs: TensorSpec[], feeds: { name: string; shape: number[] }[]): void {
  const seen = new Map<string, { input: string; axis: number; size: number }>();
  feeds.forEach((feed) => {
    const spec = specs.find((s) => s.name === feed.name);
    spec?.dimNames?.forEach((dim, axis) => {
      const size = feed.shape[axis];
      if (dim === null || size === undefined) return;
      const first = seen.get(dim);
      if (!first) return void seen.set(dim, { input: feed.name, axis, size });
      if (first.size !== size)
        throw new BadRequest(
          `input "${feed.name}" has ${size} in dimension ${axis} ("${dim}") but input "${first.input}" has ${first.size} in dimension ${first.axis}; the model needs the same size in both`,
        );
    });
  });
}

/** A JSON value where the model takes `dtype`: the value itself, or a BadRequest saying what was wrong. */
export function checkValue(value: unknown, dtype: DType, where: string): Scalar {
  const type = TYPES[dtype];
  const shown = () => (JSON.stringify(value) ?? typeof value).slice(0, 40);
  switch (type.kind) {
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadRequest(`${where} holds ${shown()} where a number is expected`);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadRequest(`${where} holds ${shown()} where a number is expected`);
      if (!Number.isInteger(value)) throw new BadRequest(`${where} holds ${value} where the model takes integers`);
      if (value < (type.min ?? -Infinity) || value > (type.max ?? Infinity)) throw new BadRequest(`${where} holds ${value}, outside what ${dtype} takes here (${type.min} to ${type.max})`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw new BadRequest(`${where} holds ${shown()} where true or false is expected`);
      return value;
    case 'string':
      if (typeof value !== 'string') throw new BadRequest(`${where} holds ${shown()} where a string is expected`);
      return value;
  }
}

function flatten(value: unknown, dims: number[], depth: number, out: Scalar[], where: string, dtype: DType): void {
  if (depth === dims.length) {
    out.push(checkValue(value, dtype, where));
    return;
  }
  if (!Array.isArray(value) || value.length !== dims[depth]) throw new BadRequest(`${where} is not a regular tensor: lists at depth ${depth + 1} must all have ${dims[depth]} entries`);
  for (const v of value) flatten(v, dims, depth + 1, out, where, dtype);
}

/** Row-major values from `offset` as nested lists of `shape` (a scalar for shape []). */
export function nest(values: readonly Scalar[], shape: readonly number[], offset: number): unknown {
  if (shape.length === 0) return values[offset];
  const [n = 0, ...rest] = shape;
  const size = rest.reduce((a, d) => a * d, 1);
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) out[i] = rest.length === 0 ? values[offset + i] : nest(values, rest, offset + i * size);
  return out;
}

/** A typed array of a run's output as JSON values: bigints as numbers, bool bytes as true/false. */
export function jsonValues(data: ArrayLike<number | bigint | string>, dtype: DType): Scalar[] {
  const out = new Array<Scalar>(data.length);
  if (dtype === 'bool') for (let i = 0; i < data.length; i++) out[i] = data[i] !== 0;
  else
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      out[i] = typeof v === 'bigint' ? Number(v) : v;
    }
  return out;
}
