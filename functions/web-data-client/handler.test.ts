import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildClient } from '../../test/helpers/bundles.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { serveClient } from './handler.js';
import route from './route.js';

t.test('serves the bundled client, which runs on its own with node', async (t) => {
  const handle = serveClient([buildClient(t)]);
  const deps = await testDeps(t);
  const a = await invoke(route, handle, deps, { path: '/data_client.js' });
  t.equal(a.status, 200);
  t.match(a.headers['content-type'], /javascript/);
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-dc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'data_client.js');
  writeFileSync(file, String(a.body));
  t.match(execFileSync(process.execPath, [file, '--help'], { encoding: 'utf8' }), /Usage: mlp/, 'a downloaded copy runs outside the checkout');
});
