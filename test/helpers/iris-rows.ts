import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import type { TestPlatform } from './platform.js';

// examples/iris/data/iris.csv as the Python examples' tests use it (test/runtime/python-*.test.ts):
// the 150 rows' measurements and species, the dataset uploaded as `mlp dataset upload` does, and
// how many rows a model's answers classify right.
const REPO = path.resolve(import.meta.dirname, '../..');
const SPECIES = ['setosa', 'versicolor', 'virginica'];
export const CSV = readFileSync(path.join(REPO, 'examples/iris/data/iris.csv'));
const ROWS = CSV.toString('utf8')
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => l.split(','));
/** The 150 rows' four measurements. */
export const X = ROWS.map((r) => r.slice(0, 4).map(Number));
/** The 150 rows' species, as the index in setosa, versicolor, virginica. */
export const Y = ROWS.map((r) => SPECIES.indexOf(r[4]?.trim() ?? ''));

/** The class a prediction names: a probability row, or (several outputs) the object's label. */
export function classOf(prediction: unknown): number {
  if (Array.isArray(prediction)) return prediction.indexOf(Math.max(...(prediction as number[])));
  const p = prediction as { label: number; probabilities: number[] };
  return p.label;
}

/** How many of the 150 rows `predicted` (one class a row) names right. */
export const rightOf = (predicted: number[]) => predicted.filter((c, i) => c === Y[i]).length;

/** Stores `bytes` at `urlPath` (WebDAV PUT) as `user`; answers the status. */
export async function davPut(p: TestPlatform, token: string, urlPath: string, bytes: Buffer): Promise<number> {
  return (await fetch(p.url + urlPath, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: bytes })).status;
}

/** The dataset `iris` of alice, ready: created, its CSV stored, its heartbeat `ready`. */
export async function irisDataset(t: Test, p: TestPlatform, token: string): Promise<void> {
  t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token, body: { name: 'iris', size: CSV.length } })).status, 201);
  t.equal(await davPut(p, token, '/data/alice/iris/iris.csv', CSV), 201);
  t.equal((await p.call('PUT', '/api/v1/users/alice/datasets/iris:heartbeat', { token, body: { state: 'ready', progress: 100 } })).status, 200);
}
