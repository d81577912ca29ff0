// Trains a small classifier of iris flowers (4 measurements → 3 species) under MLP's runtime tf:
// reads $MLP_DATASETS/iris/iris.csv, publishes accuracy and loss after every epoch, and saves
// the model to $MLP_WORKSPACE/ckpt/ (model.json + weights.bin). The saved model takes the raw
// measurements in centimetres: the normalisation learnt here is folded into its first layer.
// Outside the platform: `node train.mjs path/to/iris.csv` with @tensorflow/tfjs installed
// there does not have @mlp/runtime; run it as a job.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { datasetPath, heartbeat, saveModel, trainingCallbacks } from '@mlp/runtime';

const SPECIES = ['setosa', 'versicolor', 'virginica'];
const EPOCHS = Number(process.env.IRIS_EPOCHS ?? 40);
const csvFile = process.argv[2] ?? datasetPath('iris', 'iris.csv');

// sepal_length,sepal_width,petal_length,petal_width,species — one header line.
const rows = readFileSync(csvFile, 'utf8')
  .trim()
  .split(/\r?\n/)
  .slice(1)
  .map((line, i) => {
    const cells = line.split(',');
    const label = SPECIES.indexOf(cells[4]?.trim() ?? '');
    const features = cells.slice(0, 4).map(Number);
    if (label < 0 || features.length !== 4 || features.some((v) => !Number.isFinite(v))) throw new Error(`${csvFile} line ${i + 2} is not an iris row: ${line}`);
    return { features, label };
  });

// A fixed shuffle (seeded), then 80% to train and 20% held out, so runs are repeatable.
let seed = 42;
const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
for (let i = rows.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [rows[i], rows[j]] = [rows[j], rows[i]];
}
const cut = Math.round(rows.length * 0.8);
const train = rows.slice(0, cut);
const test = rows.slice(cut);

// Standardise with the training rows' mean and deviation.
const mean = [0, 1, 2, 3].map((k) => train.reduce((s, r) => s + r.features[k], 0) / train.length);
const std = [0, 1, 2, 3].map((k) => Math.sqrt(train.reduce((s, r) => s + (r.features[k] - mean[k]) ** 2, 0) / train.length) || 1);
const normalised = (set) => tf.tensor2d(set.map((r) => r.features.map((v, k) => (v - mean[k]) / std[k])));
const raw = (set) => tf.tensor2d(set.map((r) => r.features));
const labels = (set) =>
  tf.oneHot(
    tf.tensor1d(
      set.map((r) => r.label),
      'int32',
    ),
    SPECIES.length,
  );

const model = tf.sequential({
  layers: [
    tf.layers.dense({ name: 'measurements', inputShape: [4], units: 10, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    tf.layers.dense({ name: 'species', units: SPECIES.length, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
  ],
});
model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });

await heartbeat(0);
await model.fit(normalised(train), labels(train), { epochs: EPOCHS, batchSize: 16, shuffle: false, verbose: 0, callbacks: trainingCallbacks({ epochs: EPOCHS }) });

// Fold the standardisation into the first layer (x' = (x - mean) / std), so the saved model
// takes raw measurements: W' = W / std (per input row), b' = b - (mean / std) · W.
const first = model.getLayer('measurements');
const [kernel, bias] = first.getWeights();
const meanT = tf.tensor2d(mean, [4, 1]);
const stdT = tf.tensor2d(std, [4, 1]);
first.setWeights([kernel.div(stdT), bias.sub(meanT.div(stdT).mul(kernel).sum(0))]);

const predicted = model.predict(raw(test)).argMax(1).arraySync();
const heldOut = predicted.filter((p, i) => p === test[i].label).length / test.length;
console.log(`held-out accuracy on raw measurements: ${(heldOut * 100).toFixed(1)}% (${test.length} rows)`);

const saved = await saveModel(model);
console.log(`saved ${saved.files.join(' and ')} to ${saved.dir}`);
