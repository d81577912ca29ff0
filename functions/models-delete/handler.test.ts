import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { finishAppDeletion } from '../../shared/apps/lifecycle.js';
import { appsCollection } from '../../shared/records/apps.js';
import { modelsCollection } from '../../shared/records/models.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { hookedStore } from '../../test/helpers/hooked-store.js';
import { inUse, readyModel } from '../../test/helpers/serving.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as createApp } from '../apps-create/handler.js';
import createAppRoute from '../apps-create/route.js';
import { handle as reconcileModels } from '../models-reconcile/handler.js';
import reconcileRoute from '../models-reconcile/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('refused while an app of the owner uses the model; ready -> deleting, idempotently', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  const iris = await readyModel(deps, alice, 'alice', 'iris');
  const spare = await readyModel(deps, alice, 'alice', 'spare');
  await readyModel(deps, bob, 'bob', 'spare');
  const app = (headers: Record<string, string>, user: string, model_name: string) =>
    invoke(createAppRoute, createApp, deps, { path: `/api/v1/users/${user}/apps`, headers, body: { name: 'serve', model_name, cpu: 0.1, ram: 100 } });
  t.equal((await app(alice, 'alice', 'iris')).status, 201);
  t.equal((await app(bob, 'bob', 'spare')).status, 201);
  const del = (name: string) => invoke(route, handle, deps, { path: `/api/v1/users/alice/models/${name}`, headers: alice });
  const rom = (await inUse(deps)).rom;
  const before = await modelsCollection(deps.store).get('alice/iris');
  t.ok(before && before.version > iris.doc.version, 'the app create wrote the model (so a racing delete looks again)');

  const refused = await del('iris');
  t.equal(refused.status, 403);
  t.same(refused.body, { msg: 'model iris is used by app serve; delete the app first' });
  t.match(await modelsCollection(deps.store).get('alice/iris'), { state: 'ready', version: before?.version }, 'the refusal changed nothing');

  const deleting = await del('spare');
  t.equal(deleting.status, 200, 'bob\'s app of his own model "spare" does not hold alice\'s');
  t.match(deleting.body, { name: 'spare', user: 'alice', size: spare.doc.size, state: 'deleting' });
  t.match((await del('spare')).body, { name: 'spare', state: 'deleting' }, 'idempotent');
  t.equal((await inUse(deps)).rom, rom, 'the files and rom go later, in the models reconciler');

  // Once the app is deleted (as the app watcher finishes it), the model can go.
  const serve = await appsCollection(deps.store).update('alice/serve', {}, { set: { state: 'deleting' } });
  t.ok(serve && (await finishAppDeletion(serve, deps)), 'the app is gone');
  t.match((await del('iris')).body, { name: 'iris', state: 'deleting' });
});

t.test('only ready or error models can be deleted; unknown is not found', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const col = modelsCollection(deps.store);
  const base = { user: 'alice', tenant: 'default', size: 10, src: 'train' };
  // A create whose copy has not run yet, and one whose rom confirm was refused.
  await col.insert({ ...base, _id: 'alice/copying', uid: 'u1', name: 'copying', state: 'creating', res: 'held' });
  await col.insert({ ...base, _id: 'alice/failed', uid: 'u2', name: 'failed', state: 'error', res: 'none', msg: 'resource reservation failed: timed out' });
  const del = (name: string) => invoke(route, handle, deps, { path: `/api/v1/users/alice/models/${name}`, headers: alice });
  const creating = await del('copying');
  t.equal(creating.status, 403);
  t.same(creating.body, { msg: 'model copying is creating; only ready or error models can be deleted' });
  t.equal((await col.get('alice/copying'))?.state, 'creating');
  t.match((await del('failed')).body, { state: 'deleting' });
  t.same((await del('nope')).body, { msg: 'model nope not found' });
});

t.test(
  "an app create landing between the delete's look at the apps and its write: the delete is refused and changes nothing, even with the models reconciler running in between (store stand-in: the real store with a hook to interleave them)",
  async (t) => {
    let finds = 0;
    let armed = false;
    let interleave: () => Promise<void> = async () => undefined;
    const store = await hookedStore(t, async ({ collection, method }) => {
      if (collection === 'app_group' && method === 'find') finds += 1;
      // Just before the delete's conditional write of deleting (once; the create's own writes pass).
      if (armed && collection === 'model' && method === 'update') {
        armed = false;
        await interleave();
      }
    });
    const deps = await testDeps(t, {}, { store });
    const alice = await userWithToken(deps, 'alice');
    const iris = await readyModel(deps, alice, 'alice', 'iris');
    const files = storagePaths(deps.config.root).model('alice', 'iris');
    // While the delete looks at the apps (and finds none yet): a whole app create runs, then a
    // scheduled models reconciler pass.
    let created = 0;
    interleave = async () => {
      created = (await invoke(createAppRoute, createApp, deps, { path: '/api/v1/users/alice/apps', headers: alice, body: { name: 'serve', model_name: 'iris', cpu: 0.1, ram: 100 } })).status;
      await invoke(reconcileRoute, reconcileModels, deps, { path: reconcileRoute.path, headers: bearer(deps.serviceToken) });
    };
    finds = 0;
    armed = true;
    const answer = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models/iris', headers: alice });
    t.equal(created, 201, 'the app create went through in between');
    t.ok(finds >= 2, 'the delete looked at the apps again after its write failed');
    t.same(answer.body, { msg: 'model iris is used by app serve; delete the app first' });
    t.equal(answer.status, 403);
    t.match(await modelsCollection(deps.store).get('alice/iris'), { state: 'ready', res: 'held' }, 'the refused delete left the model ready');
    t.ok(existsSync(path.join(files, 'model.json')), 'and its files');
    t.equal((await inUse(deps)).rom, iris.doc.size, 'and its rom held');
  },
);
