import t, { type Test } from 'tap';
import { ownDatabase, startTestPlatform, storeBackends, type TestPlatform } from '../helpers/platform.js';

// docs/api.md#resources invariant under concurrency: 200 simultaneous tries from many callers never
// over-commit — on every store backend, MongoDB-wire servers included.
const CAPACITY = { MLP_TENANT_CPU: '10', MLP_TENANT_GPU: '16', MLP_TENANT_RAM: '10000', MLP_TENANT_ROM: '1000000' };

for (const backend of storeBackends()) {
  t.test(`on the ${backend.name} store`, async (t) => raceTests(t, backend.env));
}

async function raceTests(t: Test, env: Record<string, string>): Promise<void> {
  async function platform(t: Test): Promise<TestPlatform> {
    const p = await startTestPlatform({ ...ownDatabase(env), ...CAPACITY });
    t.teardown(() => p.close());
    return p;
  }

  const tryReq = (p: TestPlatform, body: Record<string, unknown>) =>
    p.call('PUT', '/api/v1/resource_request:try', { body: { applier: 'jm', request_type: 'request', ...body }, token: p.deps.serviceToken });

  t.test('equal sizes: exactly floor(free / size) of 200 concurrent tries succeed', async (t) => {
    const p = await platform(t);
    // Something already in use, so "free" is not simply the capacity.
    t.equal((await tryReq(p, { id: 'base', cpu: 1.3, ram: 700 })).status, 200);
    const size = { cpu: 0.7, ram: 150 }; // cpu allows floor(8.7/0.7)=12, ram floor(9300/150)=62
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => tryReq(p, { id: `eq-${i}`, ...size })));
    const ok = answers.filter((a) => a.status === 200).length;
    t.equal(ok, 12, 'floor(8.7 / 0.7) = 12 won');
    t.ok(
      answers.every((a) => a.status === 200 || a.status === 403),
      'every answer is 200 or 403',
    );
    const tenant = await p.deps.resources.getTenant('default');
    t.equal(tenant?.inuse.cpu, 1300 + 12 * 700, 'cpu in use is exact (thousandths)');
    t.equal(tenant?.inuse.ram, 700 + 12 * 150);
    t.ok((tenant?.inuse.cpu ?? Infinity) <= 10_000, 'never above capacity');
  });

  t.test('mixed sizes: every refused try was larger than what was free when it was decided', async (t) => {
    const p = await platform(t);
    let seed = 42;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const sizes = Array.from({ length: 200 }, () => Math.round((0.05 + rand() * 0.5) * 1000) / 1000);
    const answers = await Promise.all(sizes.map((cpu, i) => tryReq(p, { id: `mix-${i}`, cpu }).then((a) => ({ ...a, cpu }))));
    const granted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 403);
    t.ok(granted.length > 0 && refused.length > 0, `${granted.length} granted, ${refused.length} refused`);
    for (const r of refused) {
      const m = /needs cpu ([\d.]+); free cpu (-?[\d.]+)/.exec((r.json as { msg: string }).msg);
      t.ok(m, `the refusal says what was free: ${(r.json as { msg: string }).msg}`);
      if (m) t.ok(Number(m[1]) > Number(m[2]), `cpu ${m[1]} > ${m[2]} free when decided`);
    }
    const sum = granted.reduce((s, a) => s + Math.round(a.cpu * 1000), 0);
    const tenant = await p.deps.resources.getTenant('default');
    t.equal(tenant?.inuse.cpu, sum, 'in use = the sum of granted tries');
    t.ok(sum <= 10_000, 'never above capacity');
    const smallestRefused = Math.min(...refused.map((r) => Math.round(r.cpu * 1000)));
    t.ok(10_000 - sum < smallestRefused, 'what is left is smaller than any refused try');
  });

  t.test('concurrent try/confirm/cancel/release from many callers keep the invariant', async (t) => {
    const p = await platform(t);
    const { tcc } = p.deps;
    let held = 0;
    const caller = async (n: number) => {
      for (let i = 0; i < 10; i++) {
        const cpu = 0.1 * (((n + i) % 5) + 1);
        try {
          await tcc.reserve({ applier: 'jm', cpu }, async () => {
            if ((n + i) % 3 === 0) throw new Error('work failed');
          });
          held += Math.round(cpu * 1000);
          if (i % 2 === 0) {
            await tcc.release({ applier: 'jm', cpu });
            held -= Math.round(cpu * 1000);
          }
        } catch (err) {
          if (!/does not fit|work failed/.test((err as Error).message)) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, n) => caller(n)));
    const tenant = await p.deps.resources.getTenant('default');
    t.equal(tenant?.inuse.cpu, held, 'in use equals what the callers were told they hold');
    t.same(tenant?.requests, {}, 'every try ended in confirm or cancel, and left the tenant document');
  });
}
