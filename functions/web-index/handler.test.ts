import { execFileSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('serves the built UI page without a token, cached by ETag, with a strict CSP', async (t) => {
  execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../../scripts/bundle-ui.mjs'), '--no-check']);
  const deps = await testDeps(t);
  const page = await invoke(route, handle, deps, { path: '/' });
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /<main id="main"/);
  t.notMatch(page.body, /https?:\/\//, 'the page loads nothing from another origin');
  t.match(page.headers['content-security-policy'], /script-src 'sha256-[A-Za-z0-9+/=]+'/, 'only the page\'s own script runs');
  t.equal(page.headers['cache-control'], 'no-cache');
  const again = await invoke(route, handle, deps, { path: '/', headers: { 'if-none-match': page.headers.etag ?? '' } });
  t.equal(again.status, 304, 'an unchanged page is not sent again');
  t.equal(again.body, '');
});
