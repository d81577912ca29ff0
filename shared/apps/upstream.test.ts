import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { requestUpstream, upstreamTarget } from './upstream.js';

t.test('both forms the orchestrators name', async (t) => {
  t.same(upstreamTarget('127.0.0.1:31005'), { host: '127.0.0.1', port: 31005 });
  t.same(upstreamTarget('mlp-app-abc.mlp.svc:8501'), { host: 'mlp-app-abc.mlp.svc', port: 8501 });
  t.same(upstreamTarget('[::1]:31005'), { host: '::1', port: 31005 });
  t.same(upstreamTarget('unix:/srv/mlp/orchestrator/apps/x/s.sock:'), { socketPath: '/srv/mlp/orchestrator/apps/x/s.sock' });
  for (const bad of ['', 'host', 'host:0', 'host:99999', ':80', 'unix:relative:', 'unix:/no-colon']) t.throws(() => upstreamTarget(bad), /not an app upstream/, bad);
});

t.test('a request reaches a server on a Unix socket', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-upstream-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 's.sock');
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end(JSON.stringify({ method: req.method, url: req.url, body })));
  });
  await new Promise<void>((r) => server.listen(socket, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const answer = await requestUpstream(`unix:${socket}:`, {
    method: 'POST',
    path: '/v1/models/m:predict',
    headers: { 'content-type': 'application/json' },
    body: '{"instances":[1]}',
    timeoutMs: 5000,
  });
  t.same({ status: answer.status, json: JSON.parse(answer.text) }, { status: 200, json: { method: 'POST', url: '/v1/models/m:predict', body: '{"instances":[1]}' } });
  await t.rejects(requestUpstream(`unix:${path.join(dir, 'none.sock')}:`, { method: 'GET', path: '/', headers: {}, timeoutMs: 1000 }), /ENOENT/);
});
