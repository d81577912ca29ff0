import { v4 as uuid } from 'uuid';
import { romTryId, settleRom } from '../../shared/datasets/lifecycle.js';
import { Conflict, Forbidden, isClientError } from '../../shared/core/errors.js';
import { checkObjectCap } from '../../shared/records/object-cap.js';
import { datasetId, datasetsCollection, datasetView, type DatasetDoc } from '../../shared/records/datasets.js';
import { Reply, type Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/**
 * The record comes first (it takes the name), then the rom try, then its confirm. A refused
 * try removes the record again, so a refusal changes nothing; a call that dies between steps
 * leaves rom 'trying', which the datasets reconciler settles.
 */
export const handle: Handler<typeof route> = async ({ params, body }, deps) => {
  const user = params.user ?? '';
  if (body.user !== undefined && body.user !== user) throw new Forbidden(`field "user" must be ${user}, the user in the path`);
  const tenant = body.tenant ?? 'default';
  if (!(await deps.resources.getTenant(tenant))) throw new Forbidden(`tenant ${tenant} not found`);
  const col = datasetsCollection(deps.store);
  // Every dataset counts, empty ones (size 0, no rom) included: the cap is what bounds those.
  await checkObjectCap(deps, col, user, 'datasets');
  let doc: DatasetDoc;
  try {
    doc = await col.insert({
      _id: datasetId(user, body.name),
      uid: uuid(),
      name: body.name,
      user,
      tenant,
      size: body.size,
      state: 'creating',
      progress: 0,
      heartbeat_at: deps.now().toISOString(),
      rom: 'trying',
    });
  } catch (err) {
    if (err instanceof Conflict) throw new Conflict(`dataset ${body.name} already exists`);
    throw err;
  }
  try {
    await deps.tcc.try({ id: romTryId(doc), applier: 'dm', request_type: 'request', tenant, rom: body.size });
  } catch (err) {
    if (isClientError(err)) {
      await col.remove(doc._id, { version: doc.version });
      throw err;
    }
    await settleRom(doc, deps);
    throw err;
  }
  try {
    await deps.tcc.confirm(romTryId(doc), 'dm');
  } catch (err) {
    if (!isClientError(err)) throw err; // rom stays 'trying'; the reconciler settles it
    // docs/api.md#resources: a refused confirm (the try timed out) makes the object failed, with the reason.
    const failed = await col.update(doc._id, { version: doc.version }, { set: { rom: 'none', state: 'error', msg: `storage reservation failed: ${err.message}` } });
    return new Reply(datasetView(failed ?? doc), 201);
  }
  const held = await col.update(doc._id, { version: doc.version }, { set: { rom: 'held' } });
  return datasetView(held ?? doc);
};
