import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('serves an HTML page without a token', async (t) => {
  const deps = await testDeps(t);
  const page = await invoke(route, handle, deps, { path: '/' });
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /^text\/html/);
  t.match(page.body, /<h1>MLP<\/h1>/);
});
