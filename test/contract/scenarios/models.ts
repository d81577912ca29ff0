import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Test } from 'tap';
import type { ModelDoc } from '../../../shared/records/models.js';
import { storagePaths } from '../../../shared/storage/paths.js';
import { ckptOf, endedJob, modelSettled, reconcile, tinyModel, userOn } from '../../helpers/models.js';
import { until } from '../../helpers/poll.js';
import type { Answer } from '../../helpers/platform.js';
import type { Target } from '../../helpers/target.js';

// docs/api.md#models through HTTP: a model from a finished job's ckpt/, every refusal, deletion (refused
// while an app uses it; files and rom released exactly once).
function refused(t: Test, a: Answer, msg: RegExp) {
  t.equal(a.status, 403, `403 (got ${a.status} ${a.text})`);
  t.match(a.json, { msg });
}

/** rom 200 kB: enough for small models, not for the 300 kB ckpt/ below. */
export const MODELS_ENV = { MLP_TENANT_ROM: '200000' };

export async function modelsScenario(t: Test, p: Target): Promise<void> {
  const token = await userOn(p, 'alice');
  const bob = await userOn(p, 'bob');
  const models = (method: string, suffix = '', body?: unknown, as = token) => p.call(method, `/api/v1/users/alice/models${suffix}`, { token: as, body });
  const romInUse = async () => ((await p.call('GET', '/api/v1/tenants/default', { token })).json as { rom_inuse: number }).rom_inuse;
  const reconcileModels = () => reconcile(p, 'models');

  await endedJob(p, token, 'alice', 'train');
  await tinyModel(ckptOf(p, 'alice', 'train'));
  const ckptBytes = readdirSync(ckptOf(p, 'alice', 'train')).reduce((n, f) => n + readFileSync(path.join(ckptOf(p, 'alice', 'train'), f)).length, 0);

  t.test('refused creates change nothing', async (t) => {
    refused(t, await models('POST', '', { name: 'm', src: 'nope' }), /job nope not found/);
    refused(t, await models('POST', '', { name: 'model1', src: 'train' }), /"name" must match/);
    refused(t, await models('POST', '', { name: 'm', src: 'train1' }), /"src" must match/);
    refused(t, await models('POST', '', { name: 'm', src: 'train', extra: 1 }), /unknown field "extra"/);
    refused(t, await models('POST', '', { name: 'm' }), /missing field "src"/);
    refused(t, await models('POST', '', { name: 5, src: 'train' }), /"name" must be a string/);
    refused(t, await models('POST', '', { name: 'm', src: 'train', tenant: 'other' }), /tenant other not found/);
    refused(t, await models('POST', '', { name: 'm', src: 'train' }, bob), /belongs to bob/);
    refused(t, await p.call('POST', '/api/v1/users/bob/models', { token: bob, body: { name: 'm', src: 'train' } }), /job train not found/);

    await endedJob(p, token, 'alice', 'empty');
    refused(t, await models('POST', '', { name: 'm', src: 'empty' }), /job empty saved nothing in ckpt\//);

    const running = await p.call('POST', '/api/v1/users/alice/jobs', { token, body: { name: 'busy', entry: 'forever.mjs', cpu: 0.1, ram: 100 } });
    t.equal(running.status, 201);
    refused(t, await models('POST', '', { name: 'm', src: 'busy' }), /job busy is (creating|running); only a finished job can become a model/);
    await p.call('PUT', '/api/v1/users/alice/jobs/busy:stop', { token, body: {} });
    refused(t, await models('POST', '', { name: 'm', src: 'busy' }), /job busy is error; only a finished job/);

    await endedJob(p, token, 'alice', 'big');
    writeFileSync(path.join(ckptOf(p, 'alice', 'big'), 'weights.bin'), Buffer.alloc(300_000));
    refused(t, await models('POST', '', { name: 'm', src: 'big' }), /fit.*needs rom 300000/);

    await endedJob(p, token, 'alice', 'linked');
    mkdirSync(ckptOf(p, 'alice', 'linked'), { recursive: true });
    symlinkSync(path.join(p.root, 'secrets'), path.join(ckptOf(p, 'alice', 'linked'), 'keys'));
    refused(t, await models('POST', '', { name: 'm', src: 'linked' }), /ckpt\/keys is a link; a model is made of regular files only/);

    t.same((await models('GET')).json, [], 'no model was recorded');
    t.equal(await romInUse(), 0, 'no rom was reserved');
    t.notOk(existsSync(storagePaths(p.root).model('alice', 'm')), 'no files were copied');
  });

  t.test("a finished job's ckpt/ becomes a ready model; rom is reserved for its size", async (t) => {
    const created = await models('POST', '', { name: 'iris', src: 'train' });
    t.equal(created.status, 201);
    t.match(created.json, { name: 'iris', user: 'alice', tenant: 'default', src: 'train', size: ckptBytes, state: /creating|ready/ });
    t.match(await modelSettled(p, token, 'alice', 'iris'), { state: 'ready', size: ckptBytes });
    const dir = storagePaths(p.root).model('alice', 'iris');
    t.same(readdirSync(dir).sort(), ['model.json', 'weights.bin'], 'the files were copied');
    t.same(readFileSync(path.join(dir, 'weights.bin')), readFileSync(path.join(ckptOf(p, 'alice', 'train'), 'weights.bin')));
    t.equal(await romInUse(), ckptBytes);
    refused(t, await models('POST', '', { name: 'iris', src: 'train' }), /model iris already exists/);
    t.equal(await romInUse(), ckptBytes, 'a refused duplicate reserved nothing');
    t.match((await models('GET')).json, [{ name: 'iris', state: 'ready' }]);
    refused(t, await models('GET', '/nope'), /model nope not found/);
    refused(t, await models('GET', '/iris', undefined, bob), /belongs to bob/);
  });

  t.test('deletion: refused while an app uses the model; then files and rom go exactly once', async (t) => {
    const app = await p.call('POST', '/api/v1/users/alice/apps', { token, body: { name: 'serve', model_name: 'iris', cpu: 0.1, ram: 100 } });
    t.equal(app.status, 201, app.text);
    refused(t, await models('DELETE', '/iris'), /model iris is used by app serve; delete the app first/);
    t.match((await models('GET', '/iris')).json, { state: 'ready' }, 'the refused delete changed nothing');
    await until(
      async () => (await p.call('GET', '/api/v1/users/alice/apps/serve', { token })).json as { state: string },
      (a) => a.state !== 'creating',
      'app leaving creating',
      { tries: 1200 },
    );
    t.equal((await p.call('DELETE', '/api/v1/users/alice/apps/serve', { token })).status, 200);
    await until(
      async () => (await p.call('GET', '/api/v1/users/alice/apps/serve', { token })).status,
      (s) => s === 403,
      'app deletion',
      { before: () => reconcile(p, 'apps'), tries: 600 },
    );

    await models('POST', '', { name: 'other', src: 'train' });
    t.match(await modelSettled(p, token, 'alice', 'other'), { state: 'ready' });
    t.equal(await romInUse(), 2 * ckptBytes);
    t.match((await models('DELETE', '/iris')).json, { name: 'iris', state: 'deleting' });
    t.match((await models('DELETE', '/iris')).json, { state: 'deleting' }, 'idempotent');
    for (let i = 0; i < 3; i++) await reconcileModels();
    refused(t, await models('GET', '/iris'), /model iris not found/);
    t.notOk(existsSync(storagePaths(p.root).model('alice', 'iris')), 'files removed');
    t.equal(await romInUse(), ckptBytes, 'exactly its own rom was released, once');
    refused(t, await models('DELETE', '/iris'), /model iris not found/);
    t.equal((await models('POST', '', { name: 'iris', src: 'train' })).status, 201, 'the name can be reused');
    t.match(await modelSettled(p, token, 'alice', 'iris'), { state: 'ready' });
    for (const name of ['iris', 'other']) await models('DELETE', `/${name}`);
    // Deletions finish over reconcile passes; on a loaded cluster more than a few.
    const left = await until(
      async () => (await models('GET')).json as unknown[],
      (list) => list.length === 0,
      'both deletions finishing',
      { tries: 30, ms: 500, before: reconcileModels },
    );
    t.same(left, []);
    t.equal(await romInUse(), 0, 'everything given back');
  });

  t.test('a model whose job went away while creating ends in error with the reason', async (t) => {
    const col = p.store.collection<ModelDoc>('model');
    // A create that died after reserving (the copy never ran), whose job was deleted since.
    await endedJob(p, token, 'alice', 'gone');
    await tinyModel(ckptOf(p, 'alice', 'gone'));
    t.equal((await models('POST', '', { name: 'lost', src: 'gone' })).status, 201);
    await modelSettled(p, token, 'alice', 'lost');
    await p.call('DELETE', '/api/v1/users/alice/jobs/gone', { token });
    await until(
      async () => (await p.call('GET', '/api/v1/users/alice/jobs/gone', { token })).status,
      (s) => s === 403,
      'job deletion',
      { before: () => reconcile(p, 'jobs') },
    );
    // Only now back to creating: a pass (scheduled, or ours) must find the ckpt/ gone, never copy it.
    await col.update('alice/lost', {}, { set: { state: 'creating' } });
    t.match(await modelSettled(p, token, 'alice', 'lost'), { state: 'error', msg: /copying the model failed: job gone's ckpt\/ is gone/ });
    await models('DELETE', '/lost');
    await reconcileModels();
    t.equal(await romInUse(), 0, 'a failed model gives its rom back when deleted');
  });
}
