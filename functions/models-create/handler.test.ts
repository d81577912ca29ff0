import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ckptOf } from '../../shared/models/lifecycle.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { modelsCollection } from '../../shared/records/models.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { tinyModel } from '../../test/helpers/models.js';
import { until } from '../../test/helpers/poll.js';
import { finishedJob, inUse } from '../../test/helpers/serving.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

const bytesOf = (dir: string) => readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);

t.test("a finished job's ckpt/ becomes a ready model; rom reserved = its size", async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await finishedJob(deps, 'alice', 'train');
  await tinyModel(ckptOf(deps.config.root, 'alice', 'train'));
  const size = bytesOf(ckptOf(deps.config.root, 'alice', 'train'));
  const created = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models', headers, body: { name: 'iris', src: 'train' } });
  t.equal(created.status, 201);
  t.match(created.body, { name: 'iris', user: 'alice', tenant: 'default', src: 'train', size, state: /^(creating|ready)$/ });
  t.notOk('res' in (created.body as object) || 'uid' in (created.body as object), 'no internal fields in the answer');
  t.equal((await inUse(deps)).rom, size, 'rom reserved for exactly the ckpt/ bytes');
  t.match(
    await until(
      () => modelsCollection(deps.store).get('alice/iris'),
      (m) => m?.state !== 'creating',
      'the copy',
    ),
    { state: 'ready', res: 'held', size },
  );
  const dir = storagePaths(deps.config.root).model('alice', 'iris');
  t.same(readdirSync(dir).sort(), ['model.json', 'weights.bin']);
  t.same(readFileSync(path.join(dir, 'weights.bin')), readFileSync(path.join(ckptOf(deps.config.root, 'alice', 'train'), 'weights.bin')));

  const again = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models', headers, body: { name: 'iris', src: 'train' } });
  t.same(again.body, { msg: 'model iris already exists' });
  t.equal((await inUse(deps)).rom, size, 'a refused duplicate reserved nothing more');
});

t.test('refusals (missing, unfinished job, empty ckpt/, rom does not fit) leave no record and no rom', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_ROM: '1000' });
  const headers = await userWithToken(deps, 'alice');
  const bob = await userWithToken(deps, 'bob');
  const create = (body: unknown, as = headers) => invoke(route, handle, deps, { path: '/api/v1/users/alice/models', headers: as, body });
  const base = { user: 'alice', tenant: 'default', runtime: 'tf' as const, entry: 'x.mjs', gpu: 0, cpu: 1, ram: 100, progress: 0 };
  await jobsCollection(deps.store).insert({ ...base, _id: 'alice/busy', uid: 'u1', name: 'busy', state: 'running', res: 'held' });
  await tinyModel(ckptOf(deps.config.root, 'alice', 'busy'));
  await finishedJob(deps, 'alice', 'nothing'); // no ckpt/ at all
  await finishedJob(deps, 'alice', 'empty');
  mkdirSync(path.join(ckptOf(deps.config.root, 'alice', 'empty'), 'sub'), { recursive: true }); // folders, no files
  await finishedJob(deps, 'alice', 'big');
  mkdirSync(ckptOf(deps.config.root, 'alice', 'big'), { recursive: true });
  writeFileSync(path.join(ckptOf(deps.config.root, 'alice', 'big'), 'weights.bin'), Buffer.alloc(1001));

  const cases: [unknown, string | RegExp][] = [
    [{ name: 'm', src: 'nope' }, 'job nope not found'],
    [{ name: 'm', src: 'busy' }, 'job busy is running; only a finished job can become a model'],
    [{ name: 'm', src: 'nothing' }, "job nothing saved nothing in ckpt/; a model is made of a job's ckpt/ files"],
    [{ name: 'm', src: 'empty' }, "job empty saved nothing in ckpt/; a model is made of a job's ckpt/ files"],
    [{ name: 'm', src: 'big' }, /fit the tenant: needs rom 1001/],
    [{ name: 'm', src: 'big', tenant: 'other' }, 'tenant other not found'],
  ];
  for (const [body, msg] of cases) {
    const a = await create(body);
    t.equal(a.status, 403, JSON.stringify(body));
    t.match(a.body, { msg }, JSON.stringify(body));
  }
  t.match((await create({ name: 'm', src: 'busy' }, bob)).body, { msg: /belongs to bob/ }, "another user's token");
  t.same(await modelsCollection(deps.store).find(), [], 'no model record');
  t.equal((await inUse(deps)).rom, 0, 'rom_inuse 0');
  t.notOk(existsSync(storagePaths(deps.config.root).model('alice', 'm')), 'no files copied');
});

t.test("a ckpt/ that is itself a link (here to another user's job) is refused and copies nothing", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  await finishedJob(deps, 'bob', 'secret');
  await tinyModel(ckptOf(deps.config.root, 'bob', 'secret'));
  await finishedJob(deps, 'alice', 'train');
  // What alice's training script can do in its own workspace: replace ckpt/ by a relative link.
  const ckpt = ckptOf(deps.config.root, 'alice', 'train');
  mkdirSync(path.dirname(ckpt), { recursive: true });
  symlinkSync(path.join('..', '..', 'bob', 'secret', 'ckpt'), ckpt);
  const a = await invoke(route, handle, deps, { path: '/api/v1/users/alice/models', headers: alice, body: { name: 'stolen', src: 'train' } });
  t.equal(a.status, 403, `refused (got ${a.status} ${JSON.stringify(a.body)})`);
  t.match(a.body, { msg: /link/ });
  await until(
    () => modelsCollection(deps.store).get('alice/stolen'),
    (m) => m?.state !== 'creating',
    'the copy, if one was started',
  );
  t.notOk(existsSync(path.join(storagePaths(deps.config.root).model('alice', 'stolen'), 'weights.bin')), "bob's weights were not copied into alice's model");
  t.equal((await inUse(deps)).rom, 0);
});
