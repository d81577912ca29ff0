import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadFunctions } from '../../shared/routes/registry.js';
import { call, withDatabase } from '../helpers/platform.js';
import { spawnTs } from '../helpers/process.js';
import { startNginx } from './nginx.js';

// The cluster's shape on one machine: every registered function is its own template process
// (as OpenFaaS or Knative would run it), all sharing one MongoDB-compatible server, behind
// the generated Nginx gateway.
const mongo = process.env.MLP_TEST_MONGO_URL;
const TEMPLATE = path.resolve(import.meta.dirname, '../../templates/mlp-node20/index.ts');

t.test('each function in its own process, sharing MongoDB, behind Nginx', { skip: mongo ? false : 'MLP_TEST_MONGO_URL not set (npm test starts FerretDB)' }, async (t) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-fns-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const shared = {
    MLP_ROOT: root,
    MLP_MONGO_URL: withDatabase(mongo ?? '', `fns${process.pid}`),
    MLP_SECRET: 'k'.repeat(40),
    MLP_SERVICE_TOKEN: 'v'.repeat(40),
    MLP_LISTEN_HOST: '127.0.0.1',
    MLP_TENANT_CPU: '4',
  };
  const names = (await loadFunctions()).map((f) => f.route.name);
  const ports: Record<string, string> = {};
  // Started a few at a time, each awaited before the next takes its place: fifty processes
  // compiling at once on two busy cores left one silent past its bound (a bound, not a timing).
  // Each listens on a port the kernel gives it (PORT=0) and says which: a port picked here first
  // could be taken by another process before the function bound it.
  const queue = [...names];
  const starter = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      const proc = spawnTs(t, TEMPLATE, { ...shared, MLP_FUNCTION: name, PORT: '0' });
      await proc.waitFor(/function listening/, 120_000);
      ports[name] = `127.0.0.1:${listeningPort(proc.output())}`;
    }
  };
  await Promise.all(Array.from({ length: 6 }, starter));
  const gw = await startNginx({ upstream: ports });
  t.teardown(() => gw.stop());
  const api = (method: string, route: string, opts = {}) => call(gw.url, method, route, opts);

  t.equal((await api('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201, 'users-create');
  const token = (await api('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'users-token, in another process, signs with the shared secret');
  t.equal((await api('GET', '/api/v1/users/alice', { token })).status, 200, 'users-get verifies it through auth_request');
  t.equal((await api('GET', '/api/v1/auth', { token })).json, 'alice');

  // Functions call the internal routes directly (the gateway does not route them).
  const tcc = (verb: string, body: unknown) => call(`http://${ports[`resources-${verb}`]}`, 'PUT', `/api/v1/resource_request:${verb}`, { body, token: shared.MLP_SERVICE_TOKEN });
  t.equal((await api('PUT', '/api/v1/resource_request:try', { body: { id: 'x', applier: 'jm', request_type: 'request' }, token: shared.MLP_SERVICE_TOKEN })).status, 403, 'not through the gateway');
  t.equal((await tcc('try', { id: 'job-a', applier: 'jm', request_type: 'request', cpu: 1.5 })).status, 200);
  t.equal((await tcc('confirm', { id: 'job-a', applier: 'jm' })).status, 200);
  t.match((await api('GET', '/api/v1/tenants/default', { token })).json, { cpu: 4, cpu_inuse: 1.5 }, 'tenants-get sees what resources-try wrote');

  // OpenFaaS's cron-connector and Knative's PingSource trigger a reconciler with POST /.
  const reconciled = await call(`http://${ports['resources-reconcile']}`, 'POST', '/', { body: {} });
  t.equal(reconciled.status, 200);
  t.match(reconciled.json, { expired: [] });

  // WebDAV through the stream location: a body well past the 1 MiB limit of JSON routes.
  t.equal((await api('POST', '/api/v1/users/alice/datasets', { token, body: { name: 'mnist', size: 4 * 1024 * 1024 } })).status, 201, 'datasets-create');
  const blob = Buffer.alloc(3 * 1024 * 1024, 9);
  const put = await fetch(`${gw.url}/data/alice/mnist/train/blob.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: blob });
  t.equal(put.status, 201, 'data-webdav stored 3 MiB through Nginx');
  const listing = await api('GET', '/data/alice/mnist/', { token });
  t.same(listing.json, [{ path: 'train/blob.bin', size: blob.length }]);
  const tooBig = await fetch(`${gw.url}/data/alice/mnist/more.bin`, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: blob });
  t.equal(tooBig.status, 403, 'the size is enforced behind the gateway');
  t.match(await tooBig.json(), { msg: /exceed dataset mnist's size/ });
  const noToken = await fetch(`${gw.url}/data/alice/mnist/x.bin`, { method: 'PUT', body: 'x' });
  // docs/api.md#datasets: on /data a request without credentials gets the Basic challenge (401), as WebDAV clients need.
  t.equal(noToken.status, 401, 'a missing token is challenged by auth_request');
  t.equal(noToken.headers.get('www-authenticate'), 'Basic realm="MLP"');

  t.equal((await api('DELETE', '/api/v1/users/alice/token', { token })).status, 200, 'users-logout');
  t.equal((await api('GET', '/api/v1/users/alice', { token })).status, 403, 'the revocation is seen by every process');
});

/** The port of the process's `function listening` log line (templates/mlp-node20/serve.ts). */
function listeningPort(output: string): number {
  for (const line of output.split('\n')) {
    if (!line.includes('"function listening"')) continue;
    const port = (JSON.parse(line) as { port?: unknown }).port;
    if (typeof port === 'number' && port > 0) return port;
  }
  throw new Error(`no port in the function's output:\n${output}`);
}
