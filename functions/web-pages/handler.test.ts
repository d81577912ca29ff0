import t from 'tap';
import { pageReplier } from '../../shared/web/page.js';
import { buildPage } from '../../test/helpers/bundles.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { servePage } from './handler.js';
import route from './route.js';

t.test("serves the UI page at the UI's paths and refuses others", async (t) => {
  const handle = servePage(pageReplier([buildPage(t)]));
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
