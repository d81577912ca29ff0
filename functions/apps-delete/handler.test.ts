import t from 'tap';
import { appsCollection } from '../../shared/records/apps.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { inUse, portClaims, readyModel } from '../../test/helpers/serving.js';
import { checkEpochOf, userWithToken } from '../../test/helpers/users.js';
import { handle as createApp } from '../apps-create/handler.js';
import createRoute from '../apps-create/route.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('only ready or error apps can be deleted; deleting again answers deleting', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  await readyModel(deps, alice, 'alice', 'iris');
  for (const name of ['serve', 'broken']) {
    t.equal((await invoke(createRoute, createApp, deps, { path: '/api/v1/users/alice/apps', headers: alice, body: { name, model_name: 'iris', cpu: 0.1, ram: 100 } })).status, 201);
  }
  const col = appsCollection(deps.store);
  const del = (name: string, headers = alice) => invoke(route, handle, deps, { path: `/api/v1/users/alice/apps/${name}`, headers });

  const creating = await del('serve');
  t.equal(creating.status, 403);
  t.same(creating.body, { msg: 'app serve is creating; only ready or error apps can be deleted' });
  t.equal((await col.get('alice/serve'))?.state, 'creating', 'the refusal changed nothing');

  // What the app watcher writes: serve became ready, broken failed for good.
  await col.update('alice/serve', {}, { set: { state: 'ready', launched: true } });
  await col.update('alice/broken', {}, { set: { state: 'error', msg: 'the model server failed 5 times in a row; last: it ended with exit code 1' } });
  const foreign = await del('serve', bob);
  t.equal(foreign.status, 403);
  t.match(foreign.body, { msg: /belongs to bob/ });
  t.equal((await col.get('alice/serve'))?.state, 'ready', 'another user cannot delete it');

  const claims = await portClaims(deps);
  const held = await inUse(deps);
  t.equal(checkEpochOf(deps.config.root, 'alice'), undefined, 'refusals change no epoch');
  const ready = await del('serve');
  t.equal(ready.status, 200);
  t.match(ready.body, { name: 'serve', state: 'deleting' });
  const epoch = checkEpochOf(deps.config.root, 'alice');
  t.ok(epoch, "a new check epoch: the Nginx app gateway's kept answers for the app are not used again");
  t.match((await del('serve')).body, { name: 'serve', state: 'deleting' }, 'idempotent');
  t.not(checkEpochOf(deps.config.root, 'alice'), epoch, 'and tells the gateway again (the first time may have failed)');
  t.match((await del('broken')).body, { name: 'broken', state: 'deleting' });
  t.same(await portClaims(deps), claims, 'the port is freed later, by the app watcher');
  t.same(await inUse(deps), held, 'resources are released later, by the app watcher');
  t.same((await del('nope')).body, { msg: 'app nope not found' });
});
