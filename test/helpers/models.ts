import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { storagePaths } from '../../shared/storage/paths.js';
import { folderSaveHandler } from '../../templates/runtime-tf/checkpoint.js';
import { until } from './poll.js';
import type { Reachable } from './platform.js';

/** One pass of a reconciler (jobs, models, apps …), called as the platform's functions call it; throws unless it answered 200. */
export async function reconcile(p: Reachable, what: 'jobs' | 'models' | 'apps' | 'sweeps'): Promise<Record<string, string[]>> {
  const a = await p.call('POST', `/api/v1/reconcile/${what}`, { token: p.serviceToken });
  if (a.status !== 200) throw new Error(`reconcile ${what}: ${a.status} ${a.text}`);
  return a.json as Record<string, string[]>;
}

/** A small classifier (4 → 8 → 3) with random weights, saved in the layers format to `dir`. */
export async function tinyModel(dir: string): Promise<tf.LayersModel> {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
  await model.save(folderSaveHandler(dir));
  return model;
}

/** The model's own predictions, computed in the test process with tfjs. */
export function predictLocally(model: tf.LayersModel, rows: number[][]): number[][] {
  return tf.tidy(() => (model.predict(tf.tensor2d(rows)) as tf.Tensor).arraySync() as number[][]);
}

/** A user with a token and a script in the home that ends at once (a job that finishes). */
export async function userOn(p: Reachable, user: string): Promise<string> {
  await p.call('POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
  const token = (await p.call('GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] })).json as string;
  const home = storagePaths(p.root).home(user);
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'done.mjs'), 'console.log("done")');
  writeFileSync(path.join(home, 'forever.mjs'), 'setInterval(() => {}, 1000)');
  return token;
}

/** Submits a job of `entry` and waits until it has ended (reconciling meanwhile). */
export async function endedJob(p: Reachable, token: string, user: string, name: string, entry = 'done.mjs'): Promise<Record<string, unknown>> {
  const created = await p.call('POST', `/api/v1/users/${user}/jobs`, { token, body: { name, entry, cpu: 0.1, ram: 100 } });
  if (created.status !== 201) throw new Error(`job ${name}: ${created.text}`);
  return until(
    async () => (await p.call('GET', `/api/v1/users/${user}/jobs/${name}`, { token })).json as Record<string, unknown>,
    (j) => j.state === 'finished' || j.state === 'error',
    `job ${name} ending`,
    { before: () => reconcile(p, 'jobs') },
  );
}

/** The job's ckpt/ folder, where a test puts what a training script would have saved. */
export const ckptOf = (p: Reachable, user: string, job: string) => path.join(storagePaths(p.root).job(user, job), 'ckpt');

/** Polls a model until it leaves creating (reconciling meanwhile). */
export function modelSettled(p: Reachable, token: string, user: string, name: string): Promise<Record<string, unknown>> {
  return until(
    async () => (await p.call('GET', `/api/v1/users/${user}/models/${name}`, { token })).json as Record<string, unknown>,
    (m) => m.state !== 'creating',
    `model ${name} leaving creating`,
    { before: () => reconcile(p, 'models') },
  );
}

/** Iris-like rows (4 measurements each) for a tiny model's predictions. */
export const ROWS = [
  [5.1, 3.5, 1.4, 0.2],
  [6.7, 3.0, 5.2, 2.3],
  [5.9, 3.0, 4.2, 1.5],
];

/** The pid of the model server listening on `port` (its argv names the port). */
export function serverPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf('--port');
    // The server itself (node), not a wrapper around it (a shell, bwrap, prlimit: their argv names it too).
    if (i >= 0 && argv[i + 1] === String(port) && path.basename(argv[0] ?? '') === 'node' && argv.some((a) => a.includes('model-server-tf'))) return Number(entry);
  }
  return undefined;
}

/** SIGKILLs the model server listening on `port` (as a crash would); throws when none runs. */
export function killServer(port: number): number {
  const pid = serverPid(port);
  if (!pid) throw new Error(`no model server listens on port ${port}`);
  process.kill(pid, 'SIGKILL');
  return pid;
}

/** Predictions equal up to float noise (JSON round trips of float32 values). */
export const closeTo = (a: number[][], b: number[][]) => a.length === b.length && a.every((row, i) => row.length === b[i]?.length && row.every((v, j) => Math.abs(v - (b[i]?.[j] ?? NaN)) < 1e-5));

/**
 * Mi an app needs to serve the test model: its ram is a hard limit, and the model server run from
 * source (tsx) holds ~175 MiB once loaded (~100 MiB compiled). Apps with less end in error.
 */
export const SERVER_RAM = 400;

/**
 * Cores an app gets where a test needs it serving soon: its cpu is a hard quota too, and at 0.1
 * core the server loads tfjs (from source) in tens of seconds, not a few.
 */
export const SERVER_CPU = 1;
