import { BadRequest, checkDimNames, checkValue, declared, isPlainObject, showShape, TYPES, type Backend, type Feed, type Scalar, type TensorSpec } from './predictor.js';

// The Open Inference Protocol (KServe's v2 REST protocol, also spoken by Triton and MLServer)
// over a backend: model metadata and infer, with tensors as row-major flat `data` and a shape.

export const SERVER_NAME = 'mlp-model-server';
export const SERVER_VERSION = '0.1.0';

const REQUEST_FIELDS = ['id', 'parameters', 'inputs', 'outputs'];
const INPUT_FIELDS = ['name', 'shape', 'datatype', 'data', 'parameters'];
const OUTPUT_FIELDS = ['name', 'parameters'];

const describe = (s: TensorSpec) => `${s.name} (${TYPES[s.dtype].oip} ${showShape(s.shape)})`;

/** GET /v2/models/{model}: the model's name, platform and tensors (shape -1 where any size goes). */
export function oipMetadata(backend: Backend, model: string): unknown {
  const tensor = (s: TensorSpec) => ({ name: s.name, datatype: TYPES[s.dtype].oip, shape: declared(s.shape) });
  return { name: model, versions: ['1'], platform: backend.platform, inputs: backend.inputs.map(tensor), outputs: backend.outputs.map(tensor) };
}

/** POST /v2/models/{model}/infer: a parsed JSON body → the answer body; BadRequest for what the model cannot take. */
export async function infer(backend: Backend, model: string, body: unknown): Promise<unknown> {
  const { inputs, outputs } = backend;
  if (!isPlainObject(body)) throw new BadRequest('the body must be a JSON object with "inputs"');
  onlyFields(body, REQUEST_FIELDS, 'an infer request');
  if (body.id !== undefined && typeof body.id !== 'string') throw new BadRequest('"id" must be a string');
  if (body.parameters !== undefined && !isPlainObject(body.parameters)) throw new BadRequest('"parameters" must be an object');
  if (!Array.isArray(body.inputs) || body.inputs.length === 0)
    throw new BadRequest(`"inputs" must be a non-empty list of tensors {name, shape, datatype, data}; the model's inputs are ${inputs.map(describe).join(', ')}`);

  const given = new Map<string, Feed>();
  body.inputs.forEach((entry: unknown, i) => {
    if (!isPlainObject(entry)) throw new BadRequest(`inputs[${i}] must be an object {name, shape, datatype, data}`);
    onlyFields(entry, INPUT_FIELDS, `inputs[${i}]`);
    const { name } = entry;
    if (typeof name !== 'string') throw new BadRequest(`inputs[${i}] needs a "name", one of the model's inputs: ${inputs.map(describe).join(', ')}`);
    const spec = inputs.find((s) => s.name === name);
    if (!spec) throw new BadRequest(`unknown input "${name}"; the model's inputs are ${inputs.map(describe).join(', ')}`);
    if (given.has(name)) throw new BadRequest(`input "${name}" is given twice`);
    if (entry.parameters !== undefined && !isPlainObject(entry.parameters)) throw new BadRequest(`input "${name}": "parameters" must be an object`);
    const expected = TYPES[spec.dtype].oip;
    if (entry.datatype !== expected) {
      throw new BadRequest(`input "${name}" has datatype ${JSON.stringify(entry.datatype) ?? 'nothing'}; the model takes ${expected} (shape ${showShape(spec.shape)})`);
    }
    const shape = entry.shape;
    if (!Array.isArray(shape) || !shape.every((d): d is number => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw new BadRequest(`input "${name}" needs a "shape", a list of sizes (the model takes ${showShape(spec.shape)})`);
    }
    const fits = shape.length === spec.shape.length && spec.shape.every((d, k) => d === null || d === shape[k]);
    if (!fits) throw new BadRequest(`input "${name}" has shape [${shape.join(', ')}]; the model takes ${showShape(spec.shape)} (-1: any size)`);
    const count = shape.reduce((n, d) => n * d, 1);
    if (count === 0) throw new BadRequest(`input "${name}" holds no values (shape [${shape.join(', ')}])`);
    if (!Array.isArray(entry.data)) throw new BadRequest(`input "${name}" needs "data", its ${count} values as a list (row-major)`);
    const values: Scalar[] = [];
    const where = (k: number) => `input "${name}" data[${k}]`;
    // Nested lists are taken as well (the protocol allows them): their values in order.
    const flat = (entry.data as unknown[]).flat(Infinity);
    if (flat.length !== count) throw new BadRequest(`input "${name}" has ${flat.length} values in "data"; shape [${shape.join(', ')}] needs ${count}`);
    flat.forEach((v, k) => values.push(checkValue(v, spec.dtype, where(k))));
    given.set(name, { name, values, shape });
  });
  const missing = inputs.filter((s) => !given.has(s.name));
  if (missing.length)
    throw new BadRequest(`the request lacks the input${missing.length > 1 ? 's' : ''} ${missing.map((s) => `"${s.name}"`).join(', ')}; the model's inputs are ${inputs.map(describe).join(', ')}`);
  const feeds = inputs.map((s) => given.get(s.name)!);
  checkDimNames(inputs, feeds);

  let wanted: string[] | undefined;
  if (body.outputs !== undefined) {
    if (!Array.isArray(body.outputs)) throw new BadRequest('"outputs" must be a list of {name}');
    wanted = body.outputs.map((o: unknown, i) => {
      if (!isPlainObject(o) || typeof o.name !== 'string') throw new BadRequest(`outputs[${i}] must be an object {name}`);
      onlyFields(o, OUTPUT_FIELDS, `outputs[${i}]`);
      if (o.parameters !== undefined && !isPlainObject(o.parameters)) throw new BadRequest(`outputs[${i}]: "parameters" must be an object`);
      if (!outputs.some((s) => s.name === o.name)) throw new BadRequest(`unknown output "${o.name}"; the model's outputs are ${outputs.map(describe).join(', ')}`);
      return o.name;
    });
    if (new Set(wanted).size !== wanted.length) throw new BadRequest('"outputs" names an output twice');
    if (wanted.length === 0) wanted = undefined; // none asked for: all, as when "outputs" is left out
  }

  const results = await backend.run(feeds, wanted);
  return {
    model_name: model,
    model_version: '1',
    ...(body.id !== undefined ? { id: body.id } : {}),
    outputs: results.map((r) => ({ name: r.name, datatype: TYPES[r.dtype].oip, shape: r.shape, data: r.values })),
  };
}

function onlyFields(o: Record<string, unknown>, fields: string[], what: string): void {
  for (const k of Object.keys(o)) if (!fields.includes(k)) throw new BadRequest(`unknown field "${k}" in ${what}; it may have ${fields.join(', ')}`);
}
