import { v4 as uuid } from 'uuid';
import { Conflict, Forbidden, Invalid, NotFound } from '../../shared/core/errors.js';
import { checkObjectCap } from '../../shared/records/object-cap.js';
import { measureTree } from '../../shared/models/files.js';
import { ckptSegments, finishCopy, MODEL_HOLD } from '../../shared/models/lifecycle.js';
import { jobId, jobsCollection } from '../../shared/records/jobs.js';
import { modelId, modelsCollection, modelView, type ModelDoc } from '../../shared/records/models.js';
import type { Handler } from '../../shared/routes/route.js';
import { reserve } from '../../shared/tcc/hold.js';
import type route from './route.js';

/**
 * The record takes the name, then rom is reserved for the measured ckpt/ (refused: the record
 * goes again, so a refusal changes nothing), then the copy starts; the models reconciler
 * finishes a copy this call could not (docs/api.md#models).
 */
export const handle: Handler<typeof route> = async ({ params, body }, deps) => {
  const user = params.user ?? '';
  const tenant = body.tenant ?? 'default';
  if (!(await deps.resources.getTenant(tenant))) throw new Forbidden(`tenant ${tenant} not found`);
  const job = await jobsCollection(deps.store).get(jobId(user, body.src));
  if (!job) throw new NotFound(`job ${body.src} not found`);
  if (job.state !== 'finished') throw new Conflict(`job ${body.src} is ${job.state}; only a finished job can become a model`);
  const size = (await measureTree(deps.config.root, ckptSegments(user, body.src))) ?? { files: 0, bytes: 0 };
  if (size.files === 0) throw new Invalid(`job ${body.src} saved nothing in ckpt/; a model is made of a job's ckpt/ files`);
  const col = modelsCollection(deps.store);
  await checkObjectCap(deps, col, user, 'models');
  let doc: ModelDoc;
  try {
    doc = await col.insert({ _id: modelId(user, body.name), uid: uuid(), name: body.name, user, tenant, size: size.bytes, src: body.src, state: 'creating', res: 'trying' });
  } catch (err) {
    if (err instanceof Conflict) throw new Conflict(`model ${body.name} already exists`);
    throw err;
  }
  const held = await reserve(col, doc, MODEL_HOLD, deps);
  if (held.res === 'held') {
    // Started now so small models are ready at once; if this instance stops, the reconciler copies.
    void finishCopy(held, deps).catch((err: unknown) => deps.log.error('model copy failed; the reconciler retries it', { model: held._id, err: (err as Error).message }));
  }
  return modelView(held);
};
