import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('an unknown job is 403 not found', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs/train', headers })).body, { msg: 'job train not found' });
});
