import * as tf from '@tensorflow/tfjs';
import type { Deps } from '../../shared/wiring/deps.js';
import { insertJob } from './job-record.js';
import { ckptOf } from '../../shared/models/lifecycle.js';
import { jobsCollection, type JobDoc } from '../../shared/records/jobs.js';
import { modelsCollection, type ModelDoc } from '../../shared/records/models.js';
import { toApi, type Amounts } from '../../shared/tcc/amounts.js';
import { handle as createModel } from '../../functions/models-create/handler.js';
import createModelRoute from '../../functions/models-create/route.js';
import { invoke } from './deps.js';
import { tinyModel } from './models.js';
import { until } from './poll.js';

// Unit tests of the models and apps functions: what they need around them, built in the store
// the way the platform builds it.
tf.enableProdMode(); // no "install tfjs-node" banner in the test output

/** A job record as jobs-reconcile leaves a job whose script ended well (its process is not run here). */
export function finishedJob(deps: Deps, user: string, name: string): Promise<JobDoc> {
  return insertJob(deps.store, user, name);
}

/**
 * A ready model made as a user makes one: a finished job whose ckpt/ holds a real tfjs model
 * (4 → 8 → 3), then models-create, then its copy awaited. Answers the record and the tf model.
 */
export async function readyModel(deps: Deps, headers: Record<string, string>, user: string, name: string, src = 'train'): Promise<{ doc: ModelDoc; model: tf.LayersModel }> {
  if (!(await jobsCollection(deps.store).get(`${user}/${src}`))) await finishedJob(deps, user, src);
  const model = await tinyModel(ckptOf(deps.config.root, user, src));
  const created = await invoke(createModelRoute, createModel, deps, { path: `/api/v1/users/${user}/models`, headers, body: { name, src } });
  if (created.status !== 201) throw new Error(`model ${name}: ${JSON.stringify(created.body)}`);
  const doc = await until(
    async () => modelsCollection(deps.store).get(`${user}/${name}`),
    (m) => m?.state !== 'creating',
    `model ${name} leaving creating`,
  );
  if (doc?.state !== 'ready') throw new Error(`model ${name} did not become ready: ${JSON.stringify(doc)}`);
  return { doc, model };
}

/** What the default tenant has in use, in the API's units (cpu in cores). */
export async function inUse(deps: Deps): Promise<Amounts> {
  const tenant = await deps.resources.getTenant('default');
  if (!tenant) throw new Error('no default tenant');
  return toApi(tenant.inuse);
}

/** The ports apps hold in the app_port collection, ascending. */
export async function portClaims(deps: Deps): Promise<number[]> {
  return (await deps.store.collection('app_port').find()).map((c) => Number(c._id)).sort((a, b) => a - b);
}
