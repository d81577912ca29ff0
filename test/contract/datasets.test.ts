import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { romReleaseId, romTryId } from '../../shared/datasets/lifecycle.js';
import { datasetsCollection } from '../../shared/records/datasets.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { startTestPlatform, storeBackends, type Answer, type TestPlatform } from '../helpers/platform.js';

// docs/api.md#datasets (the REST side; WebDAV upload and download come with their own issue), on every store.
function refused(t: Test, a: Answer, msg: RegExp) {
  t.equal(a.status, 403, `403 (got ${a.status} ${a.text})`);
  t.match(a.json, { msg });
}

for (const backend of storeBackends()) {
  t.test(`datasets on the ${backend.name} store`, async (t) => {
    let clock = Date.now();
    const p: TestPlatform = await startTestPlatform({ ...backend.env, MLP_TENANT_ROM: '1000', MLP_TCC_TIMEOUT: '60', MLP_DATASET_STALE: '3600' }, { now: () => new Date(clock) });
    t.teardown(() => p.close());
    await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
    await p.call('POST', '/api/v1/users', { body: { username: 'bob', password: 'password1' } });
    const alice = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
    const bob = (await p.call('GET', '/api/v1/users/bob/token', { basic: ['bob', 'password1'] })).json as string;
    const ds = (method: string, suffix = '', body?: unknown, token = alice) => p.call(method, `/api/v1/users/alice/datasets${suffix}`, { token, body });
    const romInUse = async () => ((await p.call('GET', '/api/v1/tenants/default', { token: alice })).json as { rom_inuse: number }).rom_inuse;
    const reconcile = async () => (await p.call('POST', '/api/v1/reconcile/datasets', { token: p.deps.serviceToken })).json as Record<string, string[]>;

    t.test('create answers 201 creating and reserves rom = size', async (t) => {
      const a = await ds('POST', '', { name: 'mnist.v', size: 300 });
      t.equal(a.status, 201);
      t.match(a.json, { name: 'mnist.v', user: 'alice', tenant: 'default', size: 300, state: 'creating', progress: 0, created_at: String, updated_at: String });
      t.equal(await romInUse(), 300);
    });

    t.test('refused creates change nothing', async (t) => {
      const cases: [unknown, RegExp][] = [
        [{ name: '.home', size: 1 }, /"name" must match/],
        [{ name: 'a..b', size: 1 }, /"name" must match/],
        [{ name: 'Mnist', size: 1 }, /"name" must match/],
        [{ name: 'mnist1', size: 1 }, /"name" must match/],
        [{ name: 'x'.repeat(51), size: 1 }, /"name" must match/],
        [{ name: 'cifar', size: -1 }, /"size" must be >= 0/],
        [{ name: 'cifar', size: '1' }, /"size" must be an integer/],
        [{ name: 'cifar' }, /missing field "size"/],
        [{ name: 'cifar', size: 1, owner: 'x' }, /unknown field "owner"/],
        [{ name: 'cifar', size: 1, user: 'bob' }, /"user" must be alice/],
        [{ name: 'cifar', size: 1, tenant: 'other' }, /tenant other not found/],
        [{ name: 'mnist.v', size: 1 }, /dataset mnist\.v already exists/],
        [{ name: 'huge', size: 701 }, /does not fit now: needs rom 701; free rom 700/],
        [{ name: 'never', size: 1001 }, /can never fit the tenant/],
      ];
      for (const [body, msg] of cases) refused(t, await ds('POST', '', body), msg);
      t.same(
        ((await ds('GET')).json as { name: string }[]).map((d) => d.name),
        ['mnist.v'],
        'only the first dataset exists',
      );
      t.equal(await romInUse(), 300, 'and rom is as it was');
      refused(t, await ds('POST', '', { name: 'cifar', size: 1 }, bob), /belongs to bob/);
    });

    t.test("get and list are the owner's only", async (t) => {
      await ds('POST', '', { name: 'cifar', size: 100 });
      t.same(
        ((await ds('GET')).json as { name: string }[]).map((d) => d.name),
        ['mnist.v', 'cifar'],
        'oldest first',
      );
      t.match((await ds('GET', '/cifar')).json, { name: 'cifar', size: 100, state: 'creating' });
      refused(t, await ds('GET', '/nope'), /dataset nope not found/);
      refused(t, await ds('GET', '/cifar', undefined, bob), /belongs to bob/);
      refused(t, await p.call('GET', '/api/v1/users/bob/datasets/cifar', { token: alice }), /belongs to alice/);
      t.same((await p.call('GET', '/api/v1/users/bob/datasets', { token: bob })).json, [], 'bob has none');
    });

    t.test('heartbeats only while creating; ready means progress 100', async (t) => {
      t.equal((await ds('PUT', '/mnist.v:heartbeat', { state: 'creating', progress: 40 })).status, 200);
      t.match((await ds('GET', '/mnist.v')).json, { state: 'creating', progress: 40 });
      refused(t, await ds('PUT', '/mnist.v:heartbeat', { state: 'creating', progress: 101 }), /"progress" must be <= 100/);
      refused(t, await ds('PUT', '/mnist.v:heartbeat', { state: 'deleting', progress: 1 }), /"state" must be/);
      refused(t, await ds('PUT', '/nope:heartbeat', { state: 'ready', progress: 1 }), /dataset nope not found/);
      t.equal((await ds('PUT', '/mnist.v:heartbeat', { state: 'ready', progress: 7 })).status, 200);
      t.match((await ds('GET', '/mnist.v')).json, { state: 'ready', progress: 100 });
      refused(t, await ds('PUT', '/mnist.v:heartbeat', { state: 'creating', progress: 1 }), /is ready; heartbeats are accepted only while it is creating/);
      t.equal((await ds('PUT', '/cifar:heartbeat', { state: 'error', progress: 3 })).status, 200);
      t.match((await ds('GET', '/cifar')).json, { state: 'error', msg: /uploader reported an error/ });
    });

    t.test('delete: only ready or error; deleting, then gone with files and rom', async (t) => {
      await ds('POST', '', { name: 'busy', size: 50 });
      refused(t, await ds('DELETE', '/busy'), /is creating; only ready or error datasets can be deleted/);
      const dir = storagePaths(p.root).dataset('alice', 'mnist.v');
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'train.csv'), 'x');
      const before = await romInUse();
      const a = await ds('DELETE', '/mnist.v');
      t.equal(a.status, 200);
      t.match(a.json, { name: 'mnist.v', state: 'deleting' });
      t.match((await ds('DELETE', '/mnist.v')).json, { state: 'deleting' }, 'deleting again answers 200 deleting');
      refused(t, await ds('PUT', '/mnist.v:heartbeat', { state: 'creating', progress: 1 }), /is deleting/);
      t.match(await reconcile(), { deleted: ['alice/mnist.v'] });
      refused(t, await ds('GET', '/mnist.v'), /not found/);
      t.notOk(existsSync(dir), 'files removed');
      t.equal(await romInUse(), before - 300, 'rom released exactly once');
      t.match(await reconcile(), { deleted: [] }, 'a second pass has nothing to do');
      t.equal(await romInUse(), before - 300);
      t.equal((await ds('POST', '', { name: 'mnist.v', size: 10 })).status, 201, 'the name can be reused');
    });

    t.test('creating datasets without heartbeat for MLP_DATASET_STALE go to error', async (t) => {
      clock += 3601 * 1000;
      await ds('PUT', '/mnist.v:heartbeat', { state: 'creating', progress: 5 }); // fresh beat: stays
      const out = await reconcile();
      t.ok(out.stale?.includes('alice/busy'), 'the silent one went stale');
      t.notOk(out.stale?.includes('alice/mnist.v'), 'the one with a fresh heartbeat did not');
      t.match((await ds('GET', '/busy')).json, { state: 'error', msg: /no heartbeat for 3600 s/ });
    });

    t.test('an interrupted create is settled: confirmed tries are kept, others cancelled for good', async (t) => {
      const col = datasetsCollection(p.deps.store);
      const base = { user: 'alice', tenant: 'default', state: 'creating' as const, progress: 0, heartbeat_at: new Date(clock).toISOString(), rom: 'trying' as const };
      const kept = await col.insert({ ...base, _id: 'alice/kept', uid: 'u-kept', name: 'kept', size: 20 });
      const lost = await col.insert({ ...base, _id: 'alice/lost', uid: 'u-lost', name: 'lost', size: 30 });
      await p.deps.tcc.try({ id: romTryId(kept), applier: 'dm', request_type: 'request', rom: 20 });
      await p.deps.tcc.confirm(romTryId(kept), 'dm');
      const before = await romInUse();
      t.same((await reconcile()).settled, [], 'not before the TCC timeout');
      clock += 61_000;
      // The platform's scheduler may settle them first (it runs this reconciler every 2 s): the outcome counts, not who got there.
      await reconcile();
      t.equal((await col.get('alice/kept'))?.rom, 'held');
      t.match(await col.get('alice/lost'), { rom: 'none', state: 'error', msg: /interrupted/ });
      const late = await p.call('PUT', '/api/v1/resource_request:try', { token: p.deps.serviceToken, body: { id: romTryId(lost), applier: 'dm', request_type: 'request', rom: 30 } });
      refused(t, late, /late try is refused/);
      t.equal(await romInUse(), before, 'nothing leaked, nothing double-counted');
    });

    t.test('a release that expired before its confirm is retried under a fresh id', async (t) => {
      const col = datasetsCollection(p.deps.store);
      await ds('PUT', '/kept:heartbeat', { state: 'ready', progress: 100 });
      const doc = await col.get('alice/kept');
      if (!doc) throw new Error('missing');
      await p.deps.tcc.try({ id: romReleaseId(doc), applier: 'dm', request_type: 'release', rom: 20 }); // a pass that died here
      clock += 61_000;
      await p.call('POST', '/api/v1/reconcile/resources', { token: p.deps.serviceToken }); // the release try expires
      const before = await romInUse();
      await ds('DELETE', '/kept');
      t.same((await reconcile()).deleted, [], 'first pass: the old release id is refused, a fresh one is chosen');
      t.equal((await col.get('alice/kept'))?.release_attempt, 1);
      t.same((await reconcile()).deleted, ['alice/kept']);
      t.equal(await romInUse(), before - 20, 'released exactly once');
    });
  });
}
