import t from 'tap';
import { hashPassword } from '../../shared/auth/password.js';
import { onRevocation, type Revocation } from '../../shared/bus/revocations.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { checkEpochOf } from '../../test/helpers/users.js';
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
  t.ok(checkEpochOf(deps.config.root, 'alice'), "a new check epoch: no answer the Nginx app gateway kept for alice's tokens is used again");
  const again = await invoke(route, handle, deps, { path: '/api/v1/users/alice', headers: bearer(token) });
  t.equal(again.status, 403, 'the token died with the deactivation');
});

t.test("the deactivation is announced on the bus; the user's open streams fail their recheck", async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  const { token } = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  const principal = await deps.auth.verifyBearer(bearer(token));
  const heard: Revocation[] = [];
  await onRevocation(deps.bus, async (r) => void heard.push(r), deps.log);
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/users/alice', headers: bearer(token) })).status, 200);
  for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(heard, [{ user: 'alice' }]);
  await t.rejects(deps.auth.recheck(principal), /deactivated/);
});
