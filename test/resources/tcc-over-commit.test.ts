import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { call, startTestPlatform, storeBackends, type Answer } from '../helpers/platform.js';
import { freePort, spawnTs } from '../helpers/process.js';

// Over-commit, through HTTP: 30 concurrent tries of cpu 1 against 9 free cores admit exactly 9,
// and cancelling every try gives every core back. On MongoDB the tries are spread over three
// platforms sharing the database — this one and two more as their own processes — as
// functions deployed one per pod share it; the embedded store belongs to one process.
const MAIN = path.resolve(import.meta.dirname, '../../scripts/local/main.ts');
const TOKEN = 's'.repeat(40);
const CAPACITY = { MLP_TENANT_CPU: '10', MLP_TENANT_GPU: '16', MLP_TENANT_RAM: '10000', MLP_TENANT_ROM: '1000000', MLP_SERVICE_TOKEN: TOKEN };
const TRIES = 30;

for (const backend of storeBackends()) {
  t.test(`on the ${backend.name} store: 30 concurrent tries of cpu 1 with 9 free cores admit exactly 9`, async (t) => {
    const p = await startTestPlatform({ ...backend.env, ...CAPACITY });
    t.teardown(() => p.close());
    const bases = [p.url];
    if (backend.name !== 'embedded') {
      for (let i = 0; i < 2; i++) {
        const root = mkdtempSync(path.join(tmpdir(), 'mlp-overcommit-'));
        t.teardown(() => rmSync(root, { recursive: true, force: true }));
        const port = await freePort();
        const other = spawnTs(t, MAIN, { ...backend.env, ...CAPACITY, MLP_ROOT: root, MLP_PORT: String(port), MLP_APP_PORT: String(await freePort()) });
        await other.waitFor(/MLP is running/, 60_000);
        bases.push(`http://127.0.0.1:${port}`);
      }
    }
    const rr = (i: number, verb: string, body: Record<string, unknown>): Promise<Answer> => call(bases[i % bases.length] as string, 'PUT', `/api/v1/resource_request:${verb}`, { body, token: TOKEN });

    await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
    const user = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
    const cpuInUse = async () => ((await p.call('GET', '/api/v1/tenants/default', { token: user })).json as { cpu_inuse: number }).cpu_inuse;

    t.equal((await rr(0, 'try', { id: 'base', applier: 'dm', request_type: 'request', cpu: 1 })).status, 200, 'one core already taken');
    t.equal((await rr(0, 'confirm', { id: 'base', applier: 'dm' })).status, 200);
    t.equal(await cpuInUse(), 1, '9 of 10 cores free');

    const ids = Array.from({ length: TRIES }, (_, i) => `oc-${i}`);
    const tries = await Promise.all(ids.map((id, i) => rr(i, 'try', { id, applier: 'jm', request_type: 'request', cpu: 1 })));
    t.same([...new Set(tries.map((a) => a.status))].sort(), [200, 403], 'every answer is 200 or 403');
    t.equal(tries.filter((a) => a.status === 200).length, 9, 'exactly 9 admitted');
    const reasons = new Set(tries.filter((a) => a.status === 403).map((a) => (a.json as { msg: string }).msg));
    t.same([...reasons], ['request does not fit now: needs cpu 1; free cpu 0'], 'the other 21 were refused because nothing was free');
    t.equal(await cpuInUse(), 10, 'all 10 cores in use, none over');

    const cancels = await Promise.all(ids.map((id, i) => rr(i + 1, 'cancel', { id, applier: 'jm' })));
    t.ok(
      cancels.every((a) => a.status === 200),
      'every cancel answers 200',
    );
    t.equal(await cpuInUse(), 1, 'cancelling gave every admitted core back');
    t.equal((await rr(0, 'try', { id: 'oc-0', applier: 'jm', request_type: 'request', cpu: 1 })).status, 403, 'a cancelled id stays refused');
    t.equal(await cpuInUse(), 1, 'and reserves nothing');
  });
}
