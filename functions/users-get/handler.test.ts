import t from 'tap';
import { hashPassword } from '../../shared/auth/password.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('the owner sees their user; others are refused', async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  await deps.users.create('bob', await hashPassword('password1'));
  const { token } = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  const own = await invoke(route, handle, deps, { path: '/api/v1/users/alice', headers: bearer(token) });
  t.same(Object.keys(own.body as object).sort(), ['created_at', 'state', 'updated_at', 'username']);
  const other = await invoke(route, handle, deps, { path: '/api/v1/users/bob', headers: bearer(token) });
  t.equal(other.status, 403);
});
