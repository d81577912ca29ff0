import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadConfig } from '../../shared/config/load.js';
import { createDeps } from '../../shared/wiring/deps.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { runtimes } from '../../templates/runtimes.js';
import { startTestPlatform, storeBackends, type TestPlatform } from '../helpers/platform.js';

// docs/api.md#resources over HTTP, on every store backend available.
for (const backend of storeBackends()) {
  t.test(`resource manager on the ${backend.name} store`, async (t) => {
    let clock = Date.now();
    const p: TestPlatform = await startTestPlatform(
      { ...backend.env, MLP_TCC_TIMEOUT: '60', MLP_TENANT_CPU: '4', MLP_TENANT_GPU: '2', MLP_TENANT_RAM: '1000', MLP_TENANT_ROM: '1000' },
      { now: () => new Date(clock) },
    );
    t.teardown(() => p.close());
    const svc = p.deps.serviceToken;
    const rr = (verb: string, body: unknown, token = svc) => p.call('PUT', `/api/v1/resource_request:${verb}`, { body, token });
    await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
    const user = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
    const tenant = async () => (await p.call('GET', '/api/v1/tenants/default', { token: user })).json as Record<string, number>;
    const inuse = async (): Promise<{ cpu: number; gpu: number; ram: number; rom: number }> => {
      const v = await tenant();
      return { cpu: v.cpu_inuse ?? NaN, gpu: v.gpu_inuse ?? NaN, ram: v.ram_inuse ?? NaN, rom: v.rom_inuse ?? NaN };
    };
    const expectRefused = async (t: Test, answer: Promise<{ status: number; json: unknown }>, msg: RegExp) => {
      const before = await inuse();
      const a = await answer;
      t.equal(a.status, 403, `refused: ${JSON.stringify(a.json)}`);
      t.match(a.json, { msg });
      t.same(await inuse(), before, 'and nothing changed');
    };

    t.test('the tenant shows capacity from configuration and what is in use', async (t) => {
      t.match(await tenant(), { name: 'default', cpu: 4, gpu: 2, ram: 1000, rom: 1000, cpu_inuse: 0, gpu_inuse: 0, ram_inuse: 0, rom_inuse: 0, created_at: String });
      t.equal((await p.call('GET', '/api/v1/tenants/default')).status, 403, 'needs a user token');
      t.match((await p.call('GET', '/api/v1/tenants/other', { token: user })).json, { msg: 'tenant other not found' });
    });

    t.test('only the service token may call the TCC routes', async (t) => {
      const body = { id: 'auth-1', applier: 'jm', request_type: 'request', cpu: 1 };
      await expectRefused(t, rr('try', body, user), /needs the service token/);
      await expectRefused(t, rr('try', body, 'x'.repeat(43)), /needs the service token/);
      await expectRefused(t, p.call('PUT', '/api/v1/resource_request:try', { body }), /needs the service token/);
    });

    t.test('strict bodies', async (t) => {
      await expectRefused(t, rr('try', { id: 'Bad_Id', applier: 'jm', request_type: 'request' }), /"id" must match/);
      await expectRefused(t, rr('try', { id: 's1', applier: 'xx', request_type: 'request' }), /"applier"/);
      await expectRefused(t, rr('try', { id: 's1', applier: 'jm', request_type: 'request', cpu: -1 }), /"cpu" must be >= 0/);
      await expectRefused(t, rr('try', { id: 's1', applier: 'jm', request_type: 'request', gpu: 0.5 }), /"gpu" must be an integer/);
      await expectRefused(t, rr('try', { id: 's1', applier: 'jm', request_type: 'request', cpu: '1' }), /"cpu" must be a number/);
      await expectRefused(t, rr('try', { id: 's1', applier: 'jm', request_type: 'request', cpu: 0.0001 }), /more than 3 decimals/);
      await expectRefused(t, rr('confirm', { id: 's1', applier: 'jm', extra: 1 }), /unknown field "extra"/);
      await expectRefused(t, rr('try', { id: 's1', applier: 'jm', request_type: 'request', tenant: 'nope' }), /tenant nope not found/);
    });

    t.test('try reserves at once, idempotently; confirm and cancel follow the rules', async (t) => {
      const body = { id: 'job-1', applier: 'jm', request_type: 'request', cpu: 1.5, ram: 200 };
      t.equal((await rr('try', body)).status, 200);
      t.same(await inuse(), { cpu: 1.5, gpu: 0, ram: 200, rom: 0 }, 'counted from the try on');
      t.equal((await rr('try', body)).status, 200, 'a repeated try answers 200');
      t.same(await inuse(), { cpu: 1.5, gpu: 0, ram: 200, rom: 0 }, 'and reserves nothing more');
      await expectRefused(t, rr('try', { ...body, cpu: 2 }), /different content/);
      await expectRefused(t, rr('confirm', { id: 'job-1', applier: 'am' }), /belongs to applier jm/);
      await expectRefused(t, rr('cancel', { id: 'job-1', applier: 'am' }), /belongs to applier jm/);
      t.equal((await rr('confirm', { id: 'job-1', applier: 'jm' })).json, '');
      t.equal((await rr('confirm', { id: 'job-1', applier: 'jm' })).status, 200, 'confirm is idempotent');
      await expectRefused(t, rr('cancel', { id: 'job-1', applier: 'jm' }), /was confirmed; it cannot be cancelled/);
      t.same(await inuse(), { cpu: 1.5, gpu: 0, ram: 200, rom: 0 });
    });

    t.test('cancel gives back; confirm after cancel is refused', async (t) => {
      const before = await inuse();
      t.equal((await rr('try', { id: 'ds-1', applier: 'dm', request_type: 'request', rom: 300 })).status, 200);
      t.equal((await inuse()).rom, before.rom + 300);
      t.equal((await rr('cancel', { id: 'ds-1', applier: 'dm' })).status, 200);
      t.equal((await rr('cancel', { id: 'ds-1', applier: 'dm' })).status, 200, 'cancel is idempotent');
      t.same(await inuse(), before);
      await expectRefused(t, rr('confirm', { id: 'ds-1', applier: 'dm' }), /cancelled or timed out/);
      await expectRefused(t, rr('try', { id: 'ds-1', applier: 'dm', request_type: 'request', rom: 300 }), /late try is refused/);
    });

    t.test('anti-hanging: cancel of an unknown id answers 200 and refuses the late try', async (t) => {
      t.equal((await rr('confirm', { id: 'never-seen', applier: 'mm' })).status, 200, 'confirm of an unknown id: 200');
      t.equal((await rr('cancel', { id: 'late-1', applier: 'mm' })).status, 200);
      await expectRefused(t, rr('try', { id: 'late-1', applier: 'mm', request_type: 'request', rom: 10 }), /late try is refused/);
    });

    t.test('releases: nothing until confirm; never more than in use', async (t) => {
      const before = await inuse();
      await expectRefused(t, rr('try', { id: 'rel-big', applier: 'jm', request_type: 'release', cpu: before.cpu + 0.001 }), /release is larger than what is in use/);
      t.equal((await rr('try', { id: 'rel-1', applier: 'jm', request_type: 'release', cpu: 1, ram: 100 })).status, 200);
      t.same(await inuse(), before, 'a release try changes nothing yet');
      t.equal((await rr('confirm', { id: 'rel-1', applier: 'jm' })).status, 200);
      t.same(await inuse(), { ...before, cpu: before.cpu - 1, ram: before.ram - 100 });
      t.equal((await rr('confirm', { id: 'rel-1', applier: 'jm' })).status, 200);
      t.same(await inuse(), { ...before, cpu: before.cpu - 1, ram: before.ram - 100 }, 'confirming twice subtracts once');
    });

    t.test('quotas: never-fits and not-now are refused and change nothing', async (t) => {
      await expectRefused(t, rr('try', { id: 'huge', applier: 'am', request_type: 'request', gpu: 3 }), /can never fit the tenant: needs gpu 3; capacity gpu 2/);
      t.equal((await rr('try', { id: 'gpu-a', applier: 'am', request_type: 'request', gpu: 2 })).status, 200);
      await expectRefused(t, rr('try', { id: 'gpu-b', applier: 'am', request_type: 'request', gpu: 1 }), /does not fit now: needs gpu 1; free gpu 0/);
      t.equal((await rr('cancel', { id: 'gpu-a', applier: 'am' })).status, 200);
      t.equal((await rr('try', { id: 'gpu-b', applier: 'am', request_type: 'request', gpu: 1 })).status, 200, 'fits once freed');
      t.equal((await rr('cancel', { id: 'gpu-b', applier: 'am' })).status, 200);
    });

    t.test('tries not confirmed within MLP_TCC_TIMEOUT are cancelled by the reconciler', async (t) => {
      const before = await inuse();
      t.equal((await rr('try', { id: 'slow-1', applier: 'mm', request_type: 'request', ram: 100 })).status, 200);
      const reconcile = () => p.call('POST', '/api/v1/reconcile/resources', { token: svc });
      t.match((await reconcile()).json, { expired: [] }, 'not yet');
      clock += 61_000;
      t.match((await reconcile()).json, { expired: ['slow-1'] });
      t.same(await inuse(), before, 'given back');
      await expectRefused(t, rr('confirm', { id: 'slow-1', applier: 'mm' }), /cancelled or timed out/);
      t.match((await reconcile()).json, { expired: [] }, 'a second pass changes nothing');
      t.equal((await reconcile()).status, 200);
      t.equal((await p.call('POST', '/api/v1/reconcile/resources', { token: user })).status, 403, 'the reconciler route is internal');
    });

    t.test('decided requests leave the tenant document at once and keep answering the same', async (t) => {
      const doc = await p.deps.resources.getTenant('default');
      t.same(doc?.requests, {}, 'the tenant document only holds undecided requests: none are left');
      t.match(await p.deps.resources.lookup('job-1'), { tenant: 'default', entry: { state: 'confirmed' } }, 'a confirmed request is in the archive');
      t.match(await p.deps.resources.lookup('late-1'), { entry: { type: 'tombstone', state: 'cancelled' } }, 'so is a tombstone');
      t.equal((await rr('confirm', { id: 'job-1', applier: 'jm' })).status, 200, 'a confirmed request still confirms');
      await expectRefused(t, rr('cancel', { id: 'job-1', applier: 'jm' }), /was confirmed/);
      await expectRefused(t, rr('confirm', { id: 'ds-1', applier: 'dm' }), /cancelled or timed out/);
      await expectRefused(t, rr('try', { id: 'late-1', applier: 'mm', request_type: 'request', rom: 10 }), /late try is refused/);
      t.equal((await rr('try', { id: 'job-1', applier: 'jm', request_type: 'request', cpu: 1.5, ram: 200 })).status, 200, 'a repeated try is still idempotent');
      const out = (await p.call('POST', '/api/v1/reconcile/resources', { token: svc })).json;
      t.match(out, { expired: [], archived: 0 }, 'nothing was left for the reconciler');
      t.same((await p.deps.resources.getTenant('default'))?.requests, {}, 'and nothing came back into the document');
    });

    t.test('tombstones are kept 24 hours, then the reconciler may drop them', async (t) => {
      const reconcile = async () => (await p.call('POST', '/api/v1/reconcile/resources', { token: svc })).json as { collected: number };
      clock += 23 * 3600_000;
      t.match(await reconcile(), { collected: 0 }, 'none before 24 hours');
      await expectRefused(t, rr('try', { id: 'late-1', applier: 'mm', request_type: 'request', rom: 10 }), /late try is refused/);
      clock += 2 * 3600_000;
      t.ok((await reconcile()).collected > 0, 'cancelled requests and tombstones dropped after 24 hours');
      t.equal(await p.deps.resources.lookup('late-1'), undefined, 'the tombstone is gone');
      t.match(await p.deps.resources.lookup('job-1'), { entry: { state: 'confirmed' } }, 'confirmed requests are kept longer');
    });
  });
}

t.test('capacity from configuration changes on restart, keeping what is in use', async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-cap-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const open = (cpu: string) => createDeps(loadConfig({ MLP_ROOT: root, MLP_TENANT_CPU: cpu }), createLogger({ component: 't', sinks: [memorySink()] }), { runtimes });
  const first = await open('4');
  await first.tcc.reserve({ applier: 'jm', cpu: 3 }, async () => undefined);
  await first.close();
  const deps = await open('2');
  t.teardown(() => deps.close());
  const tenant = await deps.resources.getTenant('default');
  t.equal(tenant?.capacity.cpu, 2000, 'new capacity');
  t.equal(tenant?.inuse.cpu, 3000, 'in use kept, above capacity');
  await t.rejects(
    deps.tcc.reserve({ applier: 'jm', cpu: 0.1 }, async () => undefined),
    /does not fit now/,
    'new request tries are refused',
  );
  await deps.tcc.release({ applier: 'jm', cpu: 1.5 });
  await deps.tcc.reserve({ applier: 'jm', cpu: 0.5 }, async () => undefined);
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 2000, 'usable again once usage fell below capacity');
});
