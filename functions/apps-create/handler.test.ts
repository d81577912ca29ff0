import t from 'tap';
import { appsCollection, PORT_MAX, PORT_MIN, portsCollection } from '../../shared/records/apps.js';
import { modelsCollection } from '../../shared/records/models.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { hookedStore } from '../../test/helpers/hooked-store.js';
import { inUse, portClaims, readyModel } from '../../test/helpers/serving.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('claims a port in 31000–50000 in app_port and reserves cpu/gpu/ram', async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  await readyModel(deps, alice, 'alice', 'iris');
  const create = (body: unknown) => invoke(route, handle, deps, { path: '/api/v1/users/alice/apps', headers: alice, body });
  const a = await create({ name: 'serve', model_name: 'iris', cpu: 0.5, gpu: 1, ram: 200 });
  t.equal(a.status, 201);
  t.match(a.body, { name: 'serve', user: 'alice', tenant: 'default', model_name: 'iris', cpu: 0.5, gpu: 1, ram: 200, state: 'creating' });
  t.same(
    Object.keys(a.body as object).sort(),
    ['cpu', 'created_at', 'endpoint', 'gpu', 'model_name', 'name', 'port', 'ram', 'state', 'tenant', 'updated_at', 'user'],
    "the API's fields, none of uid/res",
  );
  const port = (a.body as { port: number }).port;
  t.ok(Number.isInteger(port) && port >= PORT_MIN && port <= PORT_MAX, `port ${port} in ${PORT_MIN}–${PORT_MAX}`);
  const doc = await appsCollection(deps.store).get('alice/serve');
  t.match(doc, { port, res: 'held', state: 'creating' });
  t.match(await portsCollection(deps.store).get(String(port)), { app_uid: doc?.uid, user: 'alice', name: 'serve' }, 'the port is claimed for this app');
  t.match(await inUse(deps), { cpu: 0.5, gpu: 1, ram: 200 });

  const b = await create({ name: 'other', model_name: 'iris' });
  t.match(b.body, { cpu: 1, gpu: 0, ram: 1000, state: 'creating' }, "a job's defaults");
  t.not((b.body as { port: number }).port, port, 'another port');
  t.same(
    await portClaims(deps),
    [port, (b.body as { port: number }).port].sort((x, y) => x - y),
  );
  t.match(await inUse(deps), { cpu: 1.5, gpu: 1, ram: 1200 });
});

t.test('refused creates (model missing or not ready, name taken, does not fit) claim no port and reserve nothing', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '2' });
  const alice = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  await readyModel(deps, alice, 'alice', 'iris');
  await readyModel(deps, alice, 'alice', 'old');
  await modelsCollection(deps.store).update('alice/old', {}, { set: { state: 'deleting' } });
  const create = (body: unknown, headers = alice) => invoke(route, handle, deps, { path: '/api/v1/users/alice/apps', headers, body });
  t.equal((await create({ name: 'serve', model_name: 'iris', cpu: 1, ram: 100 })).status, 201);
  const claims = await portClaims(deps);
  const held = await inUse(deps);
  t.match(held, { cpu: 1, ram: 100 });

  const cases: [unknown, string | RegExp][] = [
    [{ name: 'a', model_name: 'nope' }, 'model nope not found'],
    [{ name: 'a', model_name: 'old' }, 'model old is deleting; an app needs a ready model'],
    [{ name: 'serve', model_name: 'iris', cpu: 0.1, ram: 100 }, 'app serve already exists'],
    [{ name: 'a', model_name: 'iris', cpu: 1.5, ram: 100 }, /does not fit now: needs cpu 1\.5; free cpu 1/],
    [{ name: 'a', model_name: 'iris', cpu: 3 }, /can never fit the tenant: needs cpu 3/],
    [{ name: 'a', model_name: 'iris', cpu: 0.1234 }, /more than 3 decimals/],
    [{ name: 'a', model_name: 'iris', tenant: 'other' }, 'tenant other not found'],
    [{ name: 'a', model_name: 'iris', port: 31000 }, /unknown field "port"/],
  ];
  for (const [body, msg] of cases) {
    const a = await create(body);
    t.equal(a.status, 403, JSON.stringify(body));
    t.match(a.body, { msg }, JSON.stringify(body));
  }
  t.match((await create({ name: 'a', model_name: 'iris' }, bob)).body, { msg: /belongs to bob/ });
  t.same(
    (await appsCollection(deps.store).find()).map((a) => a._id),
    ['alice/serve'],
    'no other app record',
  );
  t.same(await portClaims(deps), claims, "no port claim beyond the first app's");
  t.same(await inUse(deps), held, 'nothing more reserved');
});

t.test(
  "a model delete landing between the create's model check and its write on the model: refused, record and port claim undone, nothing reserved (store stand-in: the real store with a hook)",
  async (t) => {
    let armed = false;
    let updates = 0;
    const store = await hookedStore(t, async ({ collection, method }) => {
      // Just before the create's conditional write on the model, a models-delete writes deleting.
      if (armed && collection === 'model' && method === 'update' && ++updates === 1) await modelsCollection(store).update('alice/iris', { state: 'ready' }, { set: { state: 'deleting' } });
    });
    const deps = await testDeps(t, {}, { store });
    const alice = await userWithToken(deps, 'alice');
    await readyModel(deps, alice, 'alice', 'iris');
    const held = await inUse(deps);
    armed = true;
    const a = await invoke(route, handle, deps, { path: '/api/v1/users/alice/apps', headers: alice, body: { name: 'serve', model_name: 'iris', cpu: 0.5, ram: 100 } });
    t.equal(updates, 2, "the model changed just before the create wrote it (the hook's own write counts too)");
    t.equal(a.status, 403);
    t.same(a.body, { msg: 'model iris is deleting; an app needs a ready model' });
    t.equal(await appsCollection(deps.store).get('alice/serve'), null, 'no app record');
    t.same(await portClaims(deps), [], 'its port claim was given back');
    t.same(await inUse(deps), held, 'nothing reserved');
  },
);
