import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import * as tf from '@tensorflow/tfjs';
import { UNSERVABLE_EXIT } from '../../templates/model-server-tf/command.js';
import { MAX_BODY_BYTES } from '../../templates/model-server-tf/server.js';
import { saveModel } from '../../templates/runtime-tf/mlp-runtime.js';
import { startBroken, startServer, tempDir, type Answer } from '../helpers/model-server.js';

// The model server over ONNX models (model.onnx, run by ONNX Runtime), through TensorFlow-Serving's
// REST API and the Open Inference Protocol (KServe v2). The fixtures are real models, made by
// test/fixtures/onnx/make.py with scikit-learn and onnx; expected.json holds what Python's
// onnxruntime answered for them, which the server must answer too.
tf.enableProdMode(); // no "install tfjs-node" banner in the test output

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/onnx');
const REPO = path.resolve(import.meta.dirname, '../..');

interface Expected {
  'iris-sklearn': { species: string[]; labels: number[]; probabilities_first5: number[][]; accuracy: number };
  'iris-regressor': { rows: number[][]; variable: number[][] };
  mixed: { inputs: Record<string, unknown[]>; outputs: Record<string, unknown[]> };
}
const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'expected.json'), 'utf8')) as Expected;

/** The iris measurements and species index of examples/iris/data/iris.csv, the data the fixtures were trained on. */
function irisRows(): { x: number[][]; y: number[] } {
  const [, ...lines] = readFileSync(path.join(REPO, 'examples/iris/data/iris.csv'), 'utf8').trim().split('\n');
  const species = expected['iris-sklearn'].species;
  const rows = lines.map((l) => l.split(','));
  return { x: rows.map((r) => r.slice(0, 4).map(Number)), y: rows.map((r) => species.indexOf(r[4] ?? '')) };
}

/** A model folder holding one fixture as model.onnx. */
function folderOf(t: Test, fixture: string): string {
  const dir = tempDir(t);
  copyFileSync(path.join(FIXTURES, fixture), path.join(dir, 'model.onnx'));
  return dir;
}

const close = (a: unknown, b: unknown, eps = 1e-5): boolean =>
  Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((v, i) => close(v, b[i], eps)) : typeof a === 'number' && typeof b === 'number' && Math.abs(a - b) <= eps;

async function refusals(t: Test, cases: [string, Promise<Answer>, RegExp][], oip = false): Promise<void> {
  for (const [what, answer, msg] of cases) {
    const a = await answer;
    t.equal(a.status, 403, `${what}: 403 (got ${a.status} ${a.text})`);
    t.match(a.json, { msg }, `${what}: says why`);
    if (oip) t.equal((a.json as { error?: string }).error, (a.json as { msg?: string }).msg, `${what}: the protocol's "error" says the same`);
  }
}

t.test('a scikit-learn classifier (label and probabilities): TF-Serving API', async (t) => {
  const { call } = await startServer(t, folderOf(t, 'iris-sklearn.onnx'), 'iris');
  const { x, y } = irisRows();
  const want = expected['iris-sklearn'];

  const meta = await call('GET', '/v1/models/iris/metadata');
  t.equal(meta.status, 200);
  t.match(meta.json, {
    model_spec: { name: 'iris', version: '1' },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: { float_input: { name: 'float_input', dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '4' }] } } },
            outputs: {
              label: { name: 'label', dtype: 'DT_INT64', tensor_shape: { dim: [{ size: '-1' }] } },
              probabilities: { name: 'probabilities', dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '3' }] } },
            },
          },
        },
      },
    },
  });
  t.equal((await call('GET', '/v1/models/iris')).status, 200);

  const predict = (body: unknown) => call('POST', '/v1/models/iris:predict', typeof body === 'string' ? body : JSON.stringify(body));
  const rows = await predict({ instances: x });
  t.equal(rows.status, 200, rows.text);
  const predictions = (rows.json as { predictions: { label: unknown; probabilities: number[] }[] }).predictions;
  t.equal(predictions.length, 150, 'one prediction per instance');
  t.same(Object.keys(predictions[0] ?? {}), ['label', 'probabilities'], 'each an object keyed by output name');
  t.ok(
    predictions.every((p) => typeof p.label === 'number' && Number.isInteger(p.label)),
    'int64 labels are JSON numbers',
  );
  const labels = predictions.map((p) => p.label as number);
  t.same(labels, want.labels, "the labels Python's onnxruntime (and scikit-learn) gave");
  const right = labels.filter((l, i) => l === y[i]).length / y.length;
  t.ok(right >= 0.9, `at least 90% of iris right (${right})`);
  t.ok(
    close(
      predictions.slice(0, 5).map((p) => p.probabilities),
      want.probabilities_first5,
    ),
    "probabilities as Python's",
  );

  const cols = await predict({ inputs: { float_input: x.slice(0, 5) } });
  t.equal(cols.status, 200, cols.text);
  const outputs = (cols.json as { outputs: { label: number[]; probabilities: number[][] } }).outputs;
  t.same(Object.keys(outputs), ['label', 'probabilities'], 'columnar: an object keyed by output name');
  t.same(outputs.label, want.labels.slice(0, 5));
  t.ok(close(outputs.probabilities, want.probabilities_first5));
  t.same((await predict({ inputs: x.slice(0, 5) })).json, cols.json, 'a single input may come bare');

  await refusals(t, [
    ['a wrong width', predict({ instances: [[1, 2, 3]] }), /instance 0 has shape \[3\]; the model takes \[4\]/],
    ['a string', predict({ instances: [[1, 2, 'x', 4]] }), /holds "x" where a number is expected/],
    ['an unknown input', predict({ inputs: { pixels: x } }), /unknown input "pixels"; the model's inputs are float_input/],
    ['a columnar wrong width', predict({ inputs: [[1, 2, 3, 4, 5]] }), /"inputs" has shape \[1, 5\]/],
  ]);
});

t.test('a scikit-learn classifier: Open Inference Protocol', async (t) => {
  const { base, call } = await startServer(t, folderOf(t, 'iris-sklearn.onnx'), 'iris');
  const { x } = irisRows();
  const want = expected['iris-sklearn'];

  t.match(await call('GET', '/v2'), { status: 200, json: { name: String, version: String, extensions: [] } });
  t.match(await call('GET', '/v2/health/live'), { status: 200, json: { live: true } });
  t.match(await call('GET', '/v2/health/ready'), { status: 200, json: { ready: true } });
  t.match(await call('GET', '/v2/models/iris/ready'), { status: 200, json: { name: 'iris', ready: true } });
  t.match(await call('GET', '/v2/models/iris/versions/1/ready'), { status: 200 });
  const meta = await call('GET', '/v2/models/iris');
  t.equal(meta.status, 200);
  t.same(meta.json, {
    name: 'iris',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'float_input', datatype: 'FP32', shape: [-1, 4] }],
    outputs: [
      { name: 'label', datatype: 'INT64', shape: [-1] },
      { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] },
    ],
  });
  t.same((await call('GET', '/v2/models/iris/versions/1')).json, meta.json, 'also under /versions/1');

  const infer = (body: unknown, where = '/v2/models/iris/infer') => call('POST', where, typeof body === 'string' ? body : JSON.stringify(body));
  const rows = x.slice(0, 5);
  const flat = await infer({ id: 'req-1', inputs: [{ name: 'float_input', shape: [5, 4], datatype: 'FP32', data: rows.flat() }] });
  t.equal(flat.status, 200, flat.text);
  const answer = flat.json as { model_name: string; model_version: string; id: string; outputs: { name: string; shape: number[]; datatype: string; data: number[] }[] };
  t.match(answer, { model_name: 'iris', model_version: '1', id: 'req-1' });
  t.same(
    answer.outputs.map((o) => [o.name, o.datatype, o.shape]),
    [
      ['label', 'INT64', [5]],
      ['probabilities', 'FP32', [5, 3]],
    ],
  );
  t.same(answer.outputs[0]?.data, want.labels.slice(0, 5), 'labels, as numbers');
  t.ok(close(answer.outputs[1]?.data, want.probabilities_first5.flat()), 'probabilities, row-major and flat');

  const nested = await infer({ inputs: [{ name: 'float_input', shape: [5, 4], datatype: 'FP32', data: rows }] }, '/v2/models/iris/versions/1/infer');
  t.equal(nested.status, 200, nested.text);
  t.same((nested.json as typeof answer).outputs, answer.outputs, 'nested data: the same answer');
  t.notOk('id' in (nested.json as object), 'no id asked, none answered');

  const only = await infer({ inputs: [{ name: 'float_input', shape: [5, 4], datatype: 'FP32', data: rows.flat(), parameters: {} }], outputs: [{ name: 'probabilities' }], parameters: {} });
  t.equal(only.status, 200, only.text);
  t.same(
    (only.json as typeof answer).outputs.map((o) => o.name),
    ['probabilities'],
    'only the outputs asked for',
  );

  const input = (over: Record<string, unknown>) => ({ inputs: [{ name: 'float_input', shape: [1, 4], datatype: 'FP32', data: [1, 2, 3, 4], ...over }] });
  await refusals(
    t,
    [
      ['a wrong shape', infer(input({ shape: [1, 3], data: [1, 2, 3] })), /input "float_input" has shape \[1, 3\]; the model takes \[-1, 4\]/],
      ['a wrong rank', infer(input({ shape: [4] })), /has shape \[4\]; the model takes \[-1, 4\]/],
      ['a wrong datatype', infer(input({ datatype: 'FP64' })), /input "float_input" has datatype "FP64"; the model takes FP32 \(shape \[-1, 4\]\)/],
      ['bytes', infer(input({ datatype: 'BYTES', data: ['a', 'b', 'c', 'd'] })), /has datatype "BYTES"; the model takes FP32/],
      ['too few values', infer(input({ data: [1, 2, 3] })), /has 3 values in "data"; shape \[1, 4\] needs 4/],
      ['a string among the values', infer(input({ data: [1, 2, 'x', 4] })), /data\[2\] holds "x" where a number is expected/],
      ['an unknown input', infer(input({ name: 'pixels' })), /unknown input "pixels"; the model's inputs are float_input \(FP32 \[-1, 4\]\)/],
      ['no inputs', infer({ inputs: [] }), /"inputs" must be a non-empty list .* the model's inputs are float_input \(FP32 \[-1, 4\]\)/],
      ['an input given twice', infer({ inputs: [input({}).inputs[0], input({}).inputs[0]] }), /input "float_input" is given twice/],
      ['an unknown output', infer({ ...input({}), outputs: [{ name: 'score' }] }), /unknown output "score"; the model's outputs are label \(INT64 \[-1\]\), probabilities \(FP32 \[-1, 3\]\)/],
      ['an unknown field', infer({ ...input({}), extra: 1 }), /unknown field "extra" in an infer request/],
      ['an unknown input field', infer(input({ contents: {} })), /unknown field "contents" in inputs\[0\]/],
      ['a shape that is not a list', infer(input({ shape: '1,4' })), /needs a "shape"/],
      ['an empty shape', infer(input({ shape: [0, 4], data: [] })), /holds no values/],
      ['not JSON', infer('{"inputs": ['), /the body is not JSON/],
      ['another model', infer(input({}), '/v2/models/mnist/infer'), /model mnist not found; this server serves iris/],
      ['another version', call('GET', '/v2/models/iris/versions/2'), /version 2 of model iris not found/],
      ['GET on infer', call('GET', '/v2/models/iris/infer'), /GET is not allowed on \/v2\/models\/iris\/infer; use POST/],
      ['POST on metadata', call('POST', '/v2/models/iris', '{}'), /POST is not allowed/],
      ['an unknown path', call('GET', '/v2/repository/index'), /no route for GET \/v2\/repository\/index/],
    ],
    true,
  );

  const big = await infer(Buffer.alloc(MAX_BODY_BYTES + 1024, ' ').toString('utf8'));
  t.equal(big.status, 403, 'a body over the cap is refused');
  t.match(big.json, { msg: /larger than 10485760 bytes/, error: /larger than/ });
  const res = await fetch(`${base}/v2/models/iris/infer`, { method: 'POST', body: JSON.stringify(input({})) });
  t.equal(res.status, 200, 'and the server goes on serving');
});

t.test("a regressor: one output, each prediction that output's value", async (t) => {
  const { call } = await startServer(t, folderOf(t, 'iris-regressor.onnx'), 'petal');
  const want = expected['iris-regressor'];
  const rows = await call('POST', '/v1/models/petal:predict', JSON.stringify({ instances: want.rows }));
  t.equal(rows.status, 200, rows.text);
  t.ok(close((rows.json as { predictions: unknown }).predictions, want.variable), "predictions as Python's");
  const cols = await call('POST', '/v1/models/petal:predict', JSON.stringify({ inputs: want.rows }));
  t.ok(close((cols.json as { outputs: unknown }).outputs, want.variable));
  t.match((await call('GET', '/v2/models/petal')).json, { outputs: [{ name: 'variable', datatype: 'FP32', shape: [-1, 1] }] });
});

t.test('a model of every input type: float, double, int64, int32, bool', async (t) => {
  const { call } = await startServer(t, folderOf(t, 'mixed.onnx'), 'mixed');
  const { inputs, outputs } = expected.mixed;
  const names = ['x', 'w', 'k', 'i', 'flag'];

  const meta = (await call('GET', '/v1/models/mixed/metadata')).json as {
    metadata: {
      signature_def: { signature_def: { serving_default: { inputs: Record<string, { dtype: string; tensor_shape: { dim: { size: string }[] } }>; outputs: Record<string, { dtype: string }> } } };
    };
  };
  const sig = meta.metadata.signature_def.signature_def.serving_default;
  t.same(
    Object.fromEntries(Object.entries(sig.inputs).map(([k, v]) => [k, [v.dtype, v.tensor_shape.dim.map((d) => d.size)]])),
    {
      x: ['DT_FLOAT', ['-1', '2']],
      w: ['DT_DOUBLE', ['-1', '2']],
      k: ['DT_INT64', ['-1', '1']],
      i: ['DT_INT32', ['-1']],
      flag: ['DT_BOOL', ['-1']],
    },
    'TF dtypes; the named free dimension N is -1',
  );
  t.same(Object.fromEntries(Object.entries(sig.outputs).map(([k, v]) => [k, v.dtype])), { total: 'DT_FLOAT', w_half: 'DT_DOUBLE', k_twice: 'DT_INT64', i_next: 'DT_INT32', not_flag: 'DT_BOOL' });
  t.same(
    ((await call('GET', '/v2/models/mixed')).json as { inputs: { datatype: string }[] }).inputs.map((i) => i.datatype),
    ['FP32', 'FP64', 'INT64', 'INT32', 'BOOL'],
  );

  const predict = (body: unknown) => call('POST', '/v1/models/mixed:predict', JSON.stringify(body));
  const cols = await predict({ inputs });
  t.equal(cols.status, 200, cols.text);
  t.same(cols.json, { outputs }, "columnar: every output as Python's (int64 and bool as JSON numbers and booleans)");
  const rows = await predict({ instances: [0, 1].map((r) => Object.fromEntries(names.map((n) => [n, inputs[n]?.[r]]))) });
  t.equal(rows.status, 200, rows.text);
  t.same(rows.json, { predictions: [0, 1].map((r) => Object.fromEntries(Object.entries(outputs).map(([n, v]) => [n, v[r]]))) }, 'row form: one object per instance');

  const datatypes: Record<string, string> = { x: 'FP32', w: 'FP64', k: 'INT64', i: 'INT32', flag: 'BOOL' };
  const shapes: Record<string, number[]> = { x: [2, 2], w: [2, 2], k: [2, 1], i: [2], flag: [2] };
  const tensors = names.map((name) => ({ name, datatype: datatypes[name], shape: shapes[name], data: (inputs[name] ?? []).flat() }));
  const infer = (body: unknown) => call('POST', '/v2/models/mixed/infer', JSON.stringify(body));
  const inferred = await infer({ inputs: [...tensors].reverse() });
  t.equal(inferred.status, 200, inferred.text);
  t.same(
    (inferred.json as { outputs: unknown[] }).outputs,
    [
      { name: 'total', datatype: 'FP32', shape: [2], data: outputs.total },
      { name: 'w_half', datatype: 'FP64', shape: [2, 2], data: outputs.w_half?.flat() },
      { name: 'k_twice', datatype: 'INT64', shape: [2, 1], data: outputs.k_twice?.flat() },
      { name: 'i_next', datatype: 'INT32', shape: [2], data: outputs.i_next },
      { name: 'not_flag', datatype: 'BOOL', shape: [2], data: outputs.not_flag },
    ],
    'infer: every datatype, inputs in any order',
  );

  const swap = (name: string, over: Record<string, unknown>) => ({ inputs: tensors.map((x) => (x.name === name ? { ...x, ...over } : x)) });
  await refusals(t, [
    ['a number for a bool', predict({ inputs: { ...inputs, flag: [1, 0] } }), /holds 1 where true or false is expected/],
    ['a fraction for an int32', predict({ inputs: { ...inputs, i: [1.5, 2] } }), /holds 1.5 where the model takes integers/],
    ['an int32 out of range', predict({ inputs: { ...inputs, i: [2 ** 31, 2] } }), /holds 2147483648, outside what int32 takes/],
    ['an int64 beyond 2^53', predict({ inputs: { ...inputs, k: [[2 ** 60], [1]] } }), /outside what int64 takes/],
    ['a missing input', predict({ inputs: { x: inputs.x } }), /lacks the input "w"/],
    ['batches that differ', predict({ inputs: { ...inputs, w: [[1, 2]] } }), /input "w" has 1 examples but the first input has 2/],
  ]);
  await refusals(
    t,
    [
      [
        'a missing input',
        infer({ inputs: tensors.slice(0, 3) }),
        /the request lacks the inputs "i", "flag"; the model's inputs are x \(FP32 \[-1, 2\]\), w \(FP64 \[-1, 2\]\), k \(INT64 \[-1, 1\]\), i \(INT32 \[-1\]\), flag \(BOOL \[-1\]\)/,
      ],
      ['INT32 for INT64', infer(swap('k', { datatype: 'INT32' })), /input "k" has datatype "INT32"; the model takes INT64/],
      ['a number for BOOL', infer(swap('flag', { data: [1, 0] })), /input "flag" data\[0\] holds 1 where true or false is expected/],
      ['sizes of N that differ', infer(swap('i', { shape: [3], data: [1, 2, 3] })), /input "i" has 3 in dimension 0 \("N"\) but input "x" has 2/],
    ],
    true,
  );
});

t.test('a tfjs layers model speaks the protocol too', async (t) => {
  const model = tf.sequential({ layers: [tf.layers.dense({ name: 'dense', inputShape: [3], units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }) })] });
  const dir = tempDir(t);
  await saveModel(model, dir);
  const rows = [
    [1, 2, 3],
    [0.5, -1, 4],
  ];
  const want = tf.tidy(() => (model.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync()) as number[][];
  const { call } = await startServer(t, dir, 'small');
  t.same((await call('GET', '/v2/models/small')).json, {
    name: 'small',
    versions: ['1'],
    platform: 'tensorflowjs_layers',
    inputs: [{ name: 'dense_input', datatype: 'FP32', shape: [-1, 3] }],
    outputs: [{ name: 'dense', datatype: 'FP32', shape: [-1, 2] }],
  });
  const a = await call('POST', '/v2/models/small/infer', JSON.stringify({ inputs: [{ name: 'dense_input', shape: [2, 3], datatype: 'FP32', data: rows.flat() }] }));
  t.equal(a.status, 200, a.text);
  t.same(a.json, { model_name: 'small', model_version: '1', outputs: [{ name: 'dense', datatype: 'FP32', shape: [2, 2], data: want.flat() }] });
});

t.test('ONNX Runtime reports no telemetry: no device id or debug log in TMPDIR or the working folder', async (t) => {
  const tmp = tempDir(t);
  const { call } = await startServer(t, folderOf(t, 'iris-sklearn.onnx'), 'iris', { env: { TMPDIR: tmp }, cwd: tmp });
  t.equal((await call('POST', '/v1/models/iris:predict', JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }))).status, 200);
  t.same(
    readdirSync(tmp).filter((f) => f === '.ses' || f.startsWith('mat-debug')),
    [],
  );
});

t.test('ONNX models that cannot be served', async (t) => {
  const bomb = await startBroken(folderOf(t, 'huge-input.onnx'), 200);
  t.equal(bomb.code, UNSERVABLE_EXIT, 'an input no app ram could hold: exits for good, before allocating it');
  t.match(bomb.stderr, /input pixels declares 64000000 values per instance \(shape \[1, 8000, 8000\]\); an app with ram 200 Mi serves at most 3276800/);

  const corrupt = tempDir(t);
  writeFileSync(path.join(corrupt, 'model.onnx'), 'not a protobuf');
  const bad = await startBroken(corrupt);
  t.not(bad.code, 0, 'a model.onnx ONNX Runtime cannot read: exits non-zero');
  t.match(bad.stderr, /model-server: .*model\.onnx cannot be loaded by ONNX Runtime/);

  const none = tempDir(t);
  writeFileSync(path.join(none, 'weights.bin'), 'x');
  const empty = await startBroken(none);
  t.equal(empty.code, UNSERVABLE_EXIT, 'neither model.onnx nor model.json: exits for good');
  t.match(empty.stderr, /holds neither model\.onnx nor model\.json: a model server needs model\.onnx \(an ONNX model\) or model\.json and its weight files/);
});
