import { v4 as uuid } from 'uuid';
import { APP_HOLD } from '../../shared/apps/lifecycle.js';
import { claimPort, releasePort } from '../../shared/apps/ports.js';
import { Conflict, Forbidden, NotFound } from '../../shared/core/errors.js';
import { checkObjectCap } from '../../shared/records/object-cap.js';
import { appId, appsCollection, appView, type AppDoc } from '../../shared/records/apps.js';
import { modelId, modelsCollection } from '../../shared/records/models.js';
import type { Handler } from '../../shared/routes/route.js';
import { toExact } from '../../shared/tcc/amounts.js';
import { reserve } from '../../shared/tcc/hold.js';
import type route from './route.js';

/**
 * A port is claimed, the record takes the name, the model is written once more while ready (a
 * model delete racing this create then sees the app; see models-delete), then cpu/gpu/ram are
 * reserved. Any refusal undoes every step, so it changes nothing.
 */
export const handle: Handler<typeof route> = async ({ params, body }, deps) => {
  const user = params.user ?? '';
  const tenant = body.tenant ?? 'default';
  const amounts = { gpu: body.gpu ?? 0, cpu: body.cpu ?? 1, ram: body.ram ?? 1000 };
  toExact(amounts); // refuses a cpu that cannot be kept exactly, before anything is written
  if (!(await deps.resources.getTenant(tenant))) throw new Forbidden(`tenant ${tenant} not found`);
  await modelMustBeReady(deps, user, body.model_name);
  const uid = uuid();
  const apps = appsCollection(deps.store);
  await checkObjectCap(deps, apps, user, 'apps');
  const port = await claimPort(deps, { app_uid: uid, user, name: body.name });
  const freePort = () => releasePort(deps, port, uid);
  let doc: AppDoc;
  try {
    doc = await apps.insert({ _id: appId(user, body.name), uid, name: body.name, user, tenant, model_name: body.model_name, ...amounts, port, state: 'creating', res: 'trying' });
  } catch (err) {
    await freePort();
    if (err instanceof Conflict) throw new Conflict(`app ${body.name} already exists`);
    throw err;
  }
  try {
    // A write on the model, conditional on it being ready: a delete that read the model before
    // this app existed then fails its own conditional write and looks at the apps again.
    const touched = await modelsCollection(deps.store).update(modelId(user, body.model_name), { state: 'ready' }, { set: { used_at: deps.now().toISOString() } });
    if (!touched) {
      await modelMustBeReady(deps, user, body.model_name); // says why it is not ready
      throw new Conflict(`model ${body.model_name} changed while the app was created; try again`);
    }
  } catch (err) {
    await apps.remove(doc._id, { version: doc.version });
    await freePort();
    throw err;
  }
  return appView(await reserve(apps, doc, APP_HOLD, deps, freePort), deps.appGateway.url);
};

async function modelMustBeReady(deps: Parameters<typeof handle>[1], user: string, name: string): Promise<void> {
  const model = await modelsCollection(deps.store).get(modelId(user, name));
  if (!model) throw new NotFound(`model ${name} not found`);
  if (model.state !== 'ready') throw new Conflict(`model ${name} is ${model.state}; an app needs a ready model`);
}
