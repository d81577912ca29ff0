import t from 'tap';
import { hashPassword } from '../../shared/auth/password.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('deactivates with any body; deactivating twice stays NotActive', async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  const { token } = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  const a = await invoke(route, handle, deps, { path: '/api/v1/users/alice', body: '<<not json>>', headers: bearer(token) });
  t.equal(a.status, 200);
  t.match(a.body, { username: 'alice', state: 'NotActive' });
  t.equal((await deps.users.get('alice'))?.state, 'NotActive');
  const again = await invoke(route, handle, deps, { path: '/api/v1/users/alice', headers: bearer(token) });
  t.equal(again.status, 403, 'the token died with the deactivation');
});
