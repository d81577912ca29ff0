import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ckptOf } from '../../shared/models/lifecycle.js';
import { modelsCollection } from '../../shared/records/models.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { holdTryId } from '../../shared/tcc/hold.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { tinyModel } from '../../test/helpers/models.js';
import { finishedJob, inUse, readyModel } from '../../test/helpers/serving.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle as deleteModel } from '../models-delete/handler.js';
import deleteRoute from '../models-delete/route.js';
import { handle } from './handler.js';
import route from './route.js';

type Summary = { copied: string[]; settled: string[]; deleted: string[] };
const bytesOf = (dir: string) => readdirSync(dir).reduce((n, f) => n + statSync(path.join(dir, f)).size, 0);

t.test('finishes a copy a create left undone (rom held, files not copied)', async (t) => {
  const deps = await testDeps(t);
  const run = async () => (await invoke(route, handle, deps, { path: route.path, headers: bearer(deps.serviceToken) })).body as Summary;
  await finishedJob(deps, 'alice', 'train');
  await tinyModel(ckptOf(deps.config.root, 'alice', 'train'));
  const size = bytesOf(ckptOf(deps.config.root, 'alice', 'train'));
  // What models-create leaves when its instance stops right after the rom was confirmed.
  await deps.tcc.try({ id: holdTryId('mm', { uid: 'u1' }), applier: 'mm', request_type: 'request', rom: size });
  await deps.tcc.confirm(holdTryId('mm', { uid: 'u1' }), 'mm');
  await modelsCollection(deps.store).insert({ _id: 'alice/iris', uid: 'u1', name: 'iris', user: 'alice', tenant: 'default', size, src: 'train', state: 'creating', res: 'held' });

  t.same(await run(), { copied: ['alice/iris'], settled: [], deleted: [] });
  const doc = await modelsCollection(deps.store).get('alice/iris');
  t.match(doc, { state: 'ready', res: 'held', size });
  t.notOk(doc && ('copy_claim' in doc || 'copy_at' in doc), 'the copy claim is cleared');
  const dir = storagePaths(deps.config.root).model('alice', 'iris');
  t.same(readFileSync(path.join(dir, 'model.json')), readFileSync(path.join(ckptOf(deps.config.root, 'alice', 'train'), 'model.json')));
  t.same(readdirSync(path.dirname(dir)), ['iris'], 'no staging folder is left beside it');
  t.same(await run(), { copied: [], settled: [], deleted: [] }, 'a second pass has nothing to do');
  t.equal((await inUse(deps)).rom, size, 'the rom stays held by the ready model');
});

t.test("removes a deleting model's files and releases its rom exactly once, even run twice at once and again", async (t) => {
  const deps = await testDeps(t);
  const alice = await userWithToken(deps, 'alice');
  const run = async () => (await invoke(route, handle, deps, { path: route.path, headers: bearer(deps.serviceToken) })).body as Summary;
  const iris = await readyModel(deps, alice, 'alice', 'iris');
  const keep = await readyModel(deps, alice, 'alice', 'keep');
  t.equal((await inUse(deps)).rom, iris.doc.size + keep.doc.size);
  t.match((await invoke(deleteRoute, deleteModel, deps, { path: '/api/v1/users/alice/models/iris', headers: alice })).body, { state: 'deleting' });

  const passes = [...(await Promise.all([run(), run()])), await run()];
  t.same(
    passes.flatMap((p) => p.deleted),
    ['alice/iris'],
    'deleted by exactly one pass',
  );
  t.equal(await modelsCollection(deps.store).get('alice/iris'), null, 'the record is gone');
  t.notOk(existsSync(storagePaths(deps.config.root).model('alice', 'iris')), 'the files are gone');
  t.ok(existsSync(storagePaths(deps.config.root).model('alice', 'keep')), "the other model's files stay");
  t.equal((await inUse(deps)).rom, keep.doc.size, 'exactly its own rom was released, once');
});

t.test('settles a rom try a create never recorded, only after the TCC timeout', async (t) => {
  let offset = 0;
  const deps = await testDeps(t, { MLP_TCC_TIMEOUT: '60' }, { now: () => new Date(Date.now() + offset) });
  const run = async () => (await invoke(route, handle, deps, { path: route.path, headers: bearer(deps.serviceToken) })).body as Summary;
  await finishedJob(deps, 'alice', 'train');
  await tinyModel(ckptOf(deps.config.root, 'alice', 'train'));
  const size = bytesOf(ckptOf(deps.config.root, 'alice', 'train'));
  const col = modelsCollection(deps.store);
  const base = { user: 'alice', tenant: 'default', size, src: 'train', state: 'creating' as const, res: 'trying' as const };
  // A create that died before its try reached the Resource-manager ...
  await col.insert({ ...base, _id: 'alice/lost', uid: 'u1', name: 'lost' });
  // ... and one that died after its confirm, before recording it.
  await deps.tcc.try({ id: holdTryId('mm', { uid: 'u2' }), applier: 'mm', request_type: 'request', rom: size });
  await deps.tcc.confirm(holdTryId('mm', { uid: 'u2' }), 'mm');
  await col.insert({ ...base, _id: 'alice/kept', uid: 'u2', name: 'kept' });

  t.same(await run(), { copied: [], settled: [], deleted: [] }, 'a create may still be running: left alone');
  offset = 61_000;
  t.same(await run(), { copied: ['alice/kept'], settled: ['alice/lost', 'alice/kept'], deleted: [] });
  t.match(await col.get('alice/lost'), { state: 'error', res: 'none', msg: /creation was interrupted before its resources were reserved/ });
  t.match(await col.get('alice/kept'), { state: 'ready', res: 'held' });
  t.equal((await inUse(deps)).rom, size, 'only the confirmed try holds rom');
  const late = deps.tcc.try({ id: holdTryId('mm', { uid: 'u1' }), applier: 'mm', request_type: 'request', rom: size });
  await t.rejects(late, /cancelled or timed out/, 'a late copy of the lost try reserves nothing');
  t.equal((await inUse(deps)).rom, size);
});
