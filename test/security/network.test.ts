import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { storagePaths } from '../../shared/storage/paths.js';
import { results, runJob, users } from '../helpers/attack.js';
import { homeScript } from '../helpers/jobs.js';
import { startTestPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/process.js';

// A job shared the host's network: it scanned the loopback and found the app gateway, model
// servers, MongoDB and Kafka (and read every password hash there, forged other users' metrics on
// Kafka), and, retrying listen() on the gateway's port while the platform restarted, took it and
// received users' passwords and tokens. Each attempt below is what that job did; each must fail,
// while the job's own API calls (heartbeat, metrics through MLP_API) still work.
// Seen failing on this commit's parent (the job on the host's network): the scan connected to the
// gateway, the app gateway and the stand-in servers, and the job held the host's port.

const ATTACK = (targets: Record<string, unknown>) => `
  import net from 'node:net';
  import { existsSync } from 'node:fs';
  const T = ${JSON.stringify(targets)};
  const result = (what, ok, value) => console.log('RESULT ' + JSON.stringify(ok ? { what, ok, value: String(value) } : { what, ok, code: String(value) }));
  const connect = (port, host = '127.0.0.1') => new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1500);
    // A connect to a free port of one's own range can meet itself (TCP simultaneous open): no listener.
    s.once('connect', () => { const self = s.localPort === s.remotePort; s.destroy(); resolve(self ? 'self' : 'connected'); });
    s.once('error', (e) => resolve(e.code));
    s.once('timeout', () => { s.destroy(); resolve('timeout'); });
  });
  // Named targets: the stand-in for MongoDB/Kafka/a model server, the app gateway, the real servers.
  for (const [what, port] of Object.entries(T.targets)) {
    const got = await connect(port);
    result('connect ' + what, got === 'connected', got);
  }
  // A scan of every port of the loopback but the API's own.
  const open = [];
  for (let from = 1; from <= 65535; from += 512) {
    const ports = [];
    for (let p = from; p < from + 512 && p <= 65535; p++) if (p !== T.apiPort) ports.push(p);
    const got = await Promise.all(ports.map((p) => connect(p)));
    got.forEach((g, i) => { if (g === 'connected') open.push(ports[i]); });
  }
  result('scan', open.length > 0, open.length > 0 ? open.join(',') : 'nothing answered');
  // The API, as the job's own helpers call it.
  const api = async (method, path, body) => {
    const res = await fetch(process.env.MLP_API + path, { method, headers: { authorization: 'Bearer ' + process.env.MLP_TOKEN, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return res.status + ' ' + (await res.text());
  };
  const user = process.env.MLP_USER, job = process.env.MLP_JOB;
  result('heartbeat', true, await api('PUT', '/api/v1/users/' + user + '/jobs/' + job + ':heartbeat', { state: 'running', progress: 50 }));
  result('metric', true, await api('POST', '/api/v1/users/' + user + '/job_metrics/' + job, { epoch: 1, accuracy: 0.5, loss: 0.7, progress: 50 }));
  // Take a port the host's gateway could need, and hold it until the test has looked.
  const server = net.createServer((c) => c.end('hijacked'));
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(T.hijackPort, '127.0.0.1', resolve); });
  console.log('LISTENING');
  for (let i = 0; i < 400 && !existsSync('release'); i++) await new Promise((r) => setTimeout(r, 50));
  server.close();
`;

t.test('a job reaches nothing on the network but the API, and what it listens on is its own', async (t) => {
  const p = await startTestPlatform({ MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '4000' });
  t.teardown(() => p.close());
  t.equal(p.deps.jobSandbox.mode, 'on', `the sandbox is available here: ${p.deps.jobSandbox.detail}`);
  const tokens = await users(p, ['alice']);
  // A stand-in for what listens on a platform's loopback: the store, the bus, a model server.
  const standIn = net.createServer((c) => c.end('secret service'));
  await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
  t.teardown(() => standIn.close());
  const portOf = (url: string | undefined) => (url ? Number(new URL(url.startsWith('mongodb') ? url.replace('mongodb', 'http') : `http://${url.split(',')[0]}`).port) : undefined);
  const targets: Record<string, number> = {
    'stand-in service': (standIn.address() as net.AddressInfo).port,
    'app gateway': Number(new URL(p.appUrl).port),
  };
  const mongo = portOf(process.env.MLP_TEST_MONGO_URL);
  const kafka = portOf(process.env.MLP_TEST_KAFKA_BROKERS);
  if (mongo) targets.MongoDB = mongo;
  if (kafka) targets.Kafka = kafka;
  const apiPort = Number(new URL(p.url).port);
  const hijackPort = await freePort();
  homeScript(p.deps, 'alice', 'netattack.mjs', ATTACK({ targets, apiPort, hijackPort }));

  const running = runJob(p, tokens.alice ?? '', 'alice', 'netattack', { cpu: 1 });
  // While the job holds "its" port, the host's is free and nothing of the job answers there.
  const workspace = storagePaths(p.root).job('alice', 'netattack');
  for (let i = 0; i < 1200; i++) {
    const log = (await p.call('GET', '/api/v1/users/alice/jobs/netattack/log', { token: tokens.alice })).text;
    if (log.includes('LISTENING')) break;
    if (i === 1199) t.fail(`the job never listened; its log:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const reached = await new Promise<string>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: hijackPort });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
  t.equal(reached, 'ECONNREFUSED', 'the port the job listens on is not reachable from the host');
  const host = net.createServer();
  await t.resolves(
    new Promise<void>((resolve, reject) => {
      host.once('error', reject);
      host.listen(hijackPort, '127.0.0.1', () => resolve());
    }),
    "the host can still take that port: the job took nothing of the host's",
  );
  await new Promise<void>((r) => host.close(() => r()));
  writeFileSync(path.join(workspace, 'release'), '');

  const { state, log } = await running;
  t.equal(state, 'finished', `the job ran to its end:\n${log.slice(-2000)}`);
  const got = results(log);
  for (const what of Object.keys(targets)) t.match(got.get(`connect ${what}`), { ok: false, code: 'ECONNREFUSED' }, `${what}: not reachable from the job`);
  t.match(got.get('scan'), { ok: false, code: 'nothing answered' }, "a scan of every loopback port (the API's aside) finds nothing");
  t.match(got.get('heartbeat'), { ok: true, value: /^200 / }, 'its heartbeat reaches the API through MLP_API');
  t.match(got.get('metric'), { ok: true, value: /^200 / }, 'and so does its metric');
  const metrics = (await p.call('GET', '/api/v1/users/alice/job_metrics/netattack', { token: tokens.alice })).json as { epoch: number }[];
  t.match(metrics, [{ epoch: 1, accuracy: 0.5 }], 'the metric arrived');
});
