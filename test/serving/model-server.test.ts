import { truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import * as tf from '@tensorflow/tfjs';
import { HEALTH_PATH, UNSERVABLE_EXIT } from '../../templates/model-server-tf/command.js';
import { MAX_BODY_BYTES } from '../../templates/model-server-tf/server.js';
import { saveModel } from '../../templates/runtime-tf/mlp-runtime.js';
import { startBroken, startServer, tempDir, type Answer } from '../helpers/model-server.js';

// The model server of runtime tf: TensorFlow-Serving's REST API over a layers model saved by
// the runtime's saveModel, started exactly as the apps manager starts it.
tf.enableProdMode(); // no "install tfjs-node" banner in the test output

const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.2, 2.9, 4.3, 1.3],
  [7.7, 3.0, 6.1, 2.3],
];

t.test('a single-input model: status, metadata, predictions in both forms, refusals', async (t) => {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ name: 'features', inputShape: [4], units: 5, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }), biasInitializer: 'ones' }),
      tf.layers.dense({ name: 'species', units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
  const dir = path.join(tempDir(t), 'ckpt');
  t.same((await saveModel(model, dir)).files, ['model.json', 'weights.bin']);
  const expected = tf.tidy(() => (model.predict(tf.tensor2d(ROWS)) as tf.Tensor).arraySync()) as number[][];
  const { base, call } = await startServer(t, dir, 'iris');

  t.match(await call('GET', HEALTH_PATH), { status: 200, json: { status: 'ok', model: 'iris' } });
  const status = await call('GET', '/v1/models/iris');
  t.equal(status.status, 200);
  t.same(status.json, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] }, "TF-Serving's status body");
  t.same((await call('GET', '/v1/models/iris/versions/1')).json, status.json, 'also under /versions/1');
  const meta = await call('GET', '/v1/models/iris/metadata');
  t.equal(meta.status, 200);
  t.match(meta.json, {
    model_spec: { name: 'iris', version: '1' },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: { features_input: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '4' }] } } },
            outputs: { species: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '3' }] } } },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  });

  const predict = (body: unknown) => call('POST', '/v1/models/iris:predict', typeof body === 'string' ? body : JSON.stringify(body));
  const rows = await predict({ instances: ROWS });
  t.equal(rows.status, 200, rows.text);
  t.same(rows.json, { predictions: expected }, "row form: the model's own predictions");
  t.same(
    (await predict({ signature_name: 'serving_default', instances: ROWS.map((r) => ({ features_input: r })) })).json,
    { predictions: expected },
    'row form with named inputs and the signature name',
  );
  t.same((await predict({ inputs: ROWS })).json, { outputs: expected }, 'columnar form, the tensor itself');
  t.same((await predict({ inputs: { features_input: ROWS } })).json, { outputs: expected }, 'columnar form, one named input');
  t.same((await call('POST', '/v1/models/iris/versions/1:predict', JSON.stringify({ instances: [ROWS[1]] }))).json, { predictions: [expected[1]] });

  const refusals: [string, Promise<Answer>, RegExp][] = [
    ['not JSON', predict('{"instances": [1, 2'), /not JSON/],
    ['not an object', predict([ROWS]), /must be a JSON object/],
    ['neither form', predict({ signature_name: 'serving_default' }), /needs "instances" \(row form\) or "inputs"/],
    ['both forms', predict({ instances: ROWS, inputs: ROWS }), /either "instances".*not both/],
    ['an unknown field', predict({ instances: ROWS, extra: 1 }), /unknown field "extra"/],
    ['another signature', predict({ signature_name: 'classify', instances: ROWS }), /signature "classify" not found/],
    ['a wrong width', predict({ instances: [[1, 2, 3]] }), /instance 0 has shape \[3\]; the model takes \[4\]/],
    ['a wrong rank', predict({ instances: [[[1, 2, 3, 4]]] }), /instance 0 has shape \[1, 4\]/],
    ['a flat list in columnar form', predict({ inputs: [1, 2, 3, 4] }), /"inputs" has shape \[4\]/],
    ['a scalar', predict({ inputs: 5 }), /must be a list of examples/],
    [
      'a ragged batch',
      predict({
        inputs: [
          [1, 2, 3, 4],
          [1, 2, 3],
        ],
      }),
      /not a regular tensor/,
    ],
    ['a string', predict({ instances: [[1, 2, 'x', 4]] }), /holds "x" where a number is expected/],
    ['a null', predict({ instances: [[1, 2, null, 4]] }), /holds null where a number is expected/],
    ['a boolean', predict({ inputs: [[true, 2, 3, 4]] }), /holds true where a number is expected/],
    ['an empty list', predict({ instances: [] }), /"instances" is empty/],
    ['an empty batch', predict({ inputs: [] }), /"inputs" is empty/],
    ['instances not a list', predict({ instances: { features_input: ROWS } }), /"instances" must be a list/],
    ['an unknown input name', predict({ inputs: { pixels: ROWS } }), /unknown input "pixels"; the model's inputs are features_input/],
    ['an unknown model', call('POST', '/v1/models/mnist:predict', JSON.stringify({ instances: ROWS })), /model mnist not found; this server serves iris/],
    ['an unknown model status', call('GET', '/v1/models/mnist'), /model mnist not found/],
    ['another version', call('GET', '/v1/models/iris/versions/2'), /version 2 of model iris not found/],
    ['GET on predict', call('GET', '/v1/models/iris:predict'), /GET is not allowed on :predict/],
    ['POST on status', call('POST', '/v1/models/iris', '{}'), /POST is not allowed/],
    ['classify', call('POST', '/v1/models/iris:classify', '{}'), /classify is not supported/],
    ['an unknown path', call('GET', '/v2/anything'), /no route for GET \/v2\/anything/],
    ['a bad escape', call('GET', '/v1/models/%E0%A4%A'), /not found/],
  ];
  for (const [what, answer, msg] of refusals) {
    const a = await answer;
    t.equal(a.status, 403, `${what}: 403 (got ${a.status} ${a.text})`);
    t.match(a.json, { msg }, `${what}: says why`);
  }

  const big = Buffer.alloc(MAX_BODY_BYTES + 1024, ' ');
  const large = await predict(big.toString('utf8'));
  t.equal(large.status, 403, 'a body over the cap is refused');
  t.match(large.json, { msg: /larger than 10485760 bytes/ });
  // Without a content-length (chunked), the cap holds as the bytes arrive.
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 11; i++) controller.enqueue(new Uint8Array(1024 * 1024).fill(32));
      controller.close();
    },
  });
  const res = await fetch(`${base}/v1/models/iris:predict`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
  t.equal(res.status, 403, 'a chunked body over the cap is refused');
  t.match(JSON.parse(await res.text()), { msg: /larger than/ });
  t.same((await predict({ instances: ROWS })).json, { predictions: expected }, 'and the server goes on serving');
});

t.test('a two-input, two-output model: named inputs and outputs in both forms', async (t) => {
  const a = tf.input({ shape: [2], name: 'a' });
  const b = tf.input({ shape: [3], name: 'b' });
  const joined = tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor;
  const score = tf.layers.dense({ units: 1, name: 'score', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }).apply(joined) as tf.SymbolicTensor;
  const label = tf.layers.dense({ units: 2, name: 'label', activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) }).apply(joined) as tf.SymbolicTensor;
  const model = tf.model({ inputs: [a, b], outputs: [score, label] });
  const dir = tempDir(t);
  await saveModel(model, dir);
  const A = [
    [1, 2],
    [3, 4],
  ];
  const B = [
    [0.5, 0.1, 0.2],
    [1, 1, 1],
  ];
  const [s, l] = tf.tidy(() => (model.predict([tf.tensor2d(A), tf.tensor2d(B)]) as tf.Tensor[]).map((y) => y.arraySync())) as [number[][], number[][]];
  const { call } = await startServer(t, dir, 'pair');
  const predict = (body: unknown) => call('POST', '/v1/models/pair:predict', JSON.stringify(body));

  const rows = await predict({
    instances: [
      { a: A[0], b: B[0] },
      { a: A[1], b: B[1] },
    ],
  });
  t.same(
    rows.json,
    {
      predictions: [
        { score: s[0], label: l[0] },
        { score: s[1], label: l[1] },
      ],
    },
    'row form: one object per example',
  );
  t.same((await predict({ inputs: { a: A, b: B } })).json, { outputs: { score: s, label: l } }, 'columnar form: one tensor per output');
  t.match((await predict({ inputs: { a: A } })).json, { msg: /lacks the input "b"/ });
  t.match((await predict({ inputs: A })).json, { msg: /must be an object with the inputs a, b/ });
  t.match((await predict({ inputs: { a: A, b: [B[0]] } })).json, { msg: /input "b" has 1 examples but the first input has 2/ });
  t.match((await predict({ instances: [{ a: A[0], b: B[0] }, { a: A[1] }] })).json, { msg: /instance 1 lacks the input "b"/ });
});

t.test('a folder that cannot be served: exit non-zero with a message on stderr', async (t) => {
  const empty = await startBroken(tempDir(t));
  t.equal(empty.code, UNSERVABLE_EXIT, 'neither model.onnx nor model.json: exits for good');
  t.match(empty.stderr, /model-server: .* holds neither model\.onnx nor model\.json: a model server needs model\.onnx \(an ONNX model\) or model\.json and its weight files/);

  const dir = tempDir(t);
  writeFileSync(path.join(dir, 'model.json'), '{"modelTopology": ');
  const corrupt = await startBroken(dir);
  t.not(corrupt.code, 0);
  t.match(corrupt.stderr, /model\.json is not JSON/);

  const short = path.join(tempDir(t), 'ckpt');
  await saveModel(tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [3] })] }), short);
  truncateSync(path.join(short, 'weights.bin'), 8);
  const truncated = await startBroken(short);
  t.not(truncated.code, 0, 'weights shorter than the manifest says');
  t.match(truncated.stderr, /model-server: the model in .* cannot be loaded/);
});

// A model.json of a few hundred bytes declared an input of [batch, 8000, 8000]: the server's
// warm-up made a zero instance of it and grew to 3.6 GiB (app ram 200) before it served anything.
// Seen on this commit's parent: the server built the 8000 x 8000 warm-up instance and went on to
// serve such a model (and this test failed: no bound, no refusal).
t.test('a model declaring an input no app ram could hold is refused before anything is allocated', async (t) => {
  const dir = path.join(tempDir(t), 'ckpt');
  await saveModel(tf.sequential({ layers: [tf.layers.globalAveragePooling1d({ inputShape: [8000, 8000] })] }), dir);
  const bomb = await startBroken(dir, 200);
  t.equal(bomb.code, UNSERVABLE_EXIT, 'exits with the code that says retrying cannot help');
  t.match(bomb.stderr, /input .* declares 64000000 values per instance \(shape \[null, 8000, 8000\]\); an app with ram 200 Mi serves at most 3276800/);
});
