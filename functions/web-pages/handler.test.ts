import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('serves the UI page at docs/api.md#browser-ui\'s paths and refuses others', async (t) => {
  execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../../scripts/bundle-ui.mjs'), '--no-check']);
  const deps = await testDeps(t);
  for (const p of ['/regist_login', '/regist_login.jsp', '/index', '/index.jsp']) {
    const page = await invoke(route, handle, deps, { path: p });
    t.equal(page.status, 200, p);
    t.match(page.body, /<main id="main"/, p);
  }
  const other = await invoke(route, handle, deps, { path: '/secrets' });
  t.equal(other.status, 403);
  t.match(other.body, { msg: /page "secrets" must match/ });
});
