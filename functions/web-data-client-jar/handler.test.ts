import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('answers 403 naming /data_client.js', async (t) => {
  const deps = await testDeps(t);
  const a = await invoke(route, handle, deps, { path: '/data_client.jar' });
  t.equal(a.status, 403);
  t.match(a.body, { msg: /\/data_client\.js/ });
});
