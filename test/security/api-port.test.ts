import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { insideApi } from '../../shared/orchestrator/api-bridge.js';
import { createLocalOrchestrator } from '../../shared/orchestrator/local.js';
import type { WorkloadStatus } from '../../shared/orchestrator/port.js';
import { sandboxSupport } from '../../shared/orchestrator/sandbox.js';

// A job reaches the API through socat, which listens on MLP_API's port inside the job's own
// network as the job's unprivileged uid. With the API on port 80 or 443 (the platform behind a
// gateway on the standard ports) socat could not listen there, and every job failed before its
// first line ("the API forwarder (socat) did not start"). Seen failing on this commit's parent.

t.test('MLP_API on a privileged port: the job calls the same URL 20,000 ports up, and reaches the API', async (t) => {
  const api = http.createServer((req, res) => res.end(JSON.stringify({ url: req.url, host: req.headers.host })));
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => api.close(() => r())));
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-api-port-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sandbox = await sandboxSupport('on');
  t.equal(sandbox.mode, 'on', 'jobs run sandboxed here');
  // The platform's own address: where the bridge sends what jobs send to MLP_API.
  const orch = createLocalOrchestrator({ log: createLogger({ component: 'test', sinks: [memorySink()] }), sandbox, api: () => `http://127.0.0.1:${(api.address() as AddressInfo).port}` });
  t.teardown(() => orch.close());
  const ended = new Promise<WorkloadStatus>((resolve) => orch.watch((s) => (s.phase === 'succeeded' || s.phase === 'failed') && resolve(s)));
  const script = "const r = await fetch(process.env.MLP_API + '/api/v1/ping'); console.log('API ' + process.env.MLP_API + ' ' + r.status + ' ' + await r.text());";
  await orch.start({
    id: 'low-port',
    kind: 'job',
    labels: {},
    command: [process.execPath, '--input-type=module', '-e', script],
    workdir: path.join(dir, 'ws'),
    env: { MLP_API: 'http://127.0.0.1:80' },
    logFile: path.join(dir, 'job.log'),
    resources: { cpu: 1, gpu: 0, ram: 200 },
    sandbox: { writable: [path.join(dir, 'ws')], readOnly: [], hidden: [dir] },
  });
  const s = await ended;
  const log = readFileSync(path.join(dir, 'job.log'), 'utf8');
  t.match(s, { phase: 'succeeded' }, log);
  t.match(log, /^API http:\/\/127\.0\.0\.1:20080 200 \{"url":"\/api\/v1\/ping","host":"127\.0\.0\.1:20080"\}$/m, 'the job saw MLP_API 20,000 ports up and the API answered');
});

t.test('what a sandboxed workload is told MLP_API is', async (t) => {
  t.same(insideApi('http://127.0.0.1:30001'), { url: 'http://127.0.0.1:30001', port: 30001 }, 'an unprivileged port stays');
  t.same(insideApi('http://mlp.example'), { url: 'http://mlp.example:20080', port: 20080 });
  t.same(insideApi('https://mlp.example/'), { url: 'https://mlp.example:20443/', port: 20443 });
  t.same(insideApi('http://[::1]:81/base'), { url: 'http://[::1]:20081/base', port: 20081 });
});
