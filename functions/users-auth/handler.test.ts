import t from 'tap';
import { hashPassword } from '../../shared/auth/password.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('answers the username and an x-mlp-user header; refuses job tokens of deleted users', async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  const { token } = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  const ok = await invoke(route, handle, deps, { path: '/api/v1/auth', headers: bearer(token) });
  t.equal(ok.status, 200);
  t.equal(ok.body, 'alice');
  t.equal(ok.headers['x-mlp-user'], 'alice');
  const viaQuery = await invoke(route, handle, deps, { path: '/api/v1/auth', query: { token } });
  t.equal(viaQuery.body, 'alice');
  const { token: ghost } = await deps.tokens.issue({ sub: 'ghost', kind: 'job', job: 'train', job_id: 'j1' });
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/auth', headers: bearer(ghost) })).status, 403);
});
