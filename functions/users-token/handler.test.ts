import t from 'tap';
import { hashPassword } from '../../shared/auth/password.js';
import { basic, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('issues a verifiable user token for the right password only', async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  const ok = await invoke(route, handle, deps, { path: '/api/v1/users/alice/token', headers: basic('alice', 'password1') });
  t.equal(ok.status, 200);
  t.match(await deps.tokens.verify(ok.body as string), { sub: 'alice', kind: 'user' });
  const bad = await invoke(route, handle, deps, { path: '/api/v1/users/alice/token', headers: basic('alice', 'password2') });
  t.equal(bad.status, 403);
  await deps.users.deactivate('alice');
  const deactivated = await invoke(route, handle, deps, { path: '/api/v1/users/alice/token', headers: basic('alice', 'password1') });
  t.same([deactivated.status, deactivated.body], [bad.status, bad.body], 'a deactivated user gets exactly the wrong-password answer');
});
