import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import { until } from './poll.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const SPECIES = ['setosa', 'versicolor', 'virginica'];

export interface IrisTarget {
  /** The gateway and the app gateway the client talks to. */
  url: string;
  appUrl: string;
  /** A scratch folder of the test's. */
  work: string;
  /** Runs the `mlp` client as its own process. */
  mlp(...args: string[]): Promise<{ code: number | null; out: string }>;
}

/**
 * The README's walk-through, as a newcomer runs it with the `mlp` client, for user alice
 * (registered, password password1): upload the iris data, submit examples/iris/train.mjs, watch
 * its metrics, make a model, deploy an app, predict, clean up. The model is really trained by the
 * job (tfjs in the job's process) and really served. Used against the one-process platform and
 * against the cluster shape (npm run cluster:local).
 */
export async function irisWalkthrough(t: Test, { url, appUrl, work, mlp }: IrisTarget): Promise<void> {
  const ok = async (...args: string[]) => {
    const r = await mlp(...args);
    t.equal(r.code, 0, `mlp ${args.join(' ')}${r.code === 0 ? '' : `: ${r.out}`}`);
    return r.out;
  };

  // No --app-url: the client calls the app where the platform says it is (App.endpoint).
  await ok('login', '--url', url, '--user', 'alice', '--password', 'password1');
  t.match(await ok('dataset', 'upload', path.join(REPO, 'examples/iris/data'), '--name', 'iris', '--quiet'), /dataset iris is ready/);
  t.match(await ok('home', 'put', path.join(REPO, 'examples/iris/train.mjs')), /stored \.home\/train\.mjs/);
  t.match(await ok('job', 'submit', 'iris', '--entry', 'train.mjs', '--cpu', '1'), /iris\s+(creating|running)/);

  const metrics = await ok('job', 'metrics', 'iris', '--follow');
  const epochs = [...metrics.matchAll(/epoch\s+(\d+)\s+accuracy (\d\.\d+)\s+loss (\d+\.\d+)/g)].map((m) => ({ epoch: Number(m[1]), accuracy: Number(m[2]) }));
  t.ok(epochs.length >= 10, `the metrics arrived epoch by epoch (${epochs.length})`);
  t.ok((epochs.at(-1)?.accuracy ?? 0) > 0.9, `accuracy at the last epoch > 0.9 (${epochs.at(-1)?.accuracy})`);
  t.ok((epochs.at(-1)?.accuracy ?? 0) > (epochs[0]?.accuracy ?? 1), 'accuracy rose while it trained');

  t.match(metrics, /job iris is finished$/m, 'following the metrics ends once the job has ended');
  t.match(await ok('model', 'create', 'iris', '--src', 'iris'), /iris\s+ready\s+\d+ bytes\s+from job iris/);
  t.match(await ok('model', 'ls'), /iris\s+ready/);
  const created = await ok('app', 'create', 'iris', '--model', 'iris', '--cpu', '0.5', '--ram', '500');
  t.match(created, /iris\s+ready\s+model iris\s+port \d+/);
  t.match(created, `predict: POST ${appUrl}/alice/iris/v1/models/iris:predict`);

  const rows = readFileSync(path.join(REPO, 'examples/iris/data/iris.csv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(','));
  const file = path.join(work, 'rows.json');
  writeFileSync(file, JSON.stringify({ instances: rows.map((r) => r.slice(0, 4).map(Number)) }));
  const answer = JSON.parse(await ok('app', 'predict', 'iris', file)) as { predictions: number[][] };
  t.equal(answer.predictions.length, rows.length, 'one prediction per row');
  const right = answer.predictions.filter((probs, i) => SPECIES[probs.indexOf(Math.max(...probs))] === rows[i]?.[4]).length;
  t.ok(right / rows.length > 0.9, `the served model classifies most iris rows right (${right} of ${rows.length})`);

  writeFileSync(file, JSON.stringify([[5.1, 3.5, 1.4, 0.2]]));
  const one = JSON.parse(await ok('app', 'predict', 'iris', file)) as { predictions: number[][] };
  t.equal(one.predictions[0]?.indexOf(Math.max(...(one.predictions[0] ?? []))), 0, 'a bare list of instances works too: a setosa');
  writeFileSync(file, JSON.stringify([[1, 2]]));
  const bad = await mlp('app', 'predict', 'iris', file);
  t.equal(bad.code, 1);
  t.match(bad.out, /mlp: instance 0 has shape \[2\]/, "a malformed instance prints the server's msg");

  t.match((await mlp('model', 'rm', 'iris')).out, /mlp: model iris is used by app iris; delete the app first/);
  t.match(await ok('app', 'rm', 'iris'), /app iris is deleting/);
  await until(
    () => ok('app', 'ls'),
    (out) => /no apps/.test(out),
    'the app going away',
    { ms: 200, tries: 300 },
  );
  t.match(await ok('model', 'rm', 'iris'), /model iris is deleting/);
}
