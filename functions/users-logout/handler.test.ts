import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { hashPassword } from '../../shared/auth/password.js';
import { onRevocation, type Revocation } from '../../shared/bus/revocations.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { checkEpochOf } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('revokes the presented token and prunes expired revocations', async (t) => {
  let now = Date.now();
  const deps = await testDeps(t, { MLP_TOKEN_TTL: '60' }, { now: () => new Date(now) });
  await deps.users.create('alice', await hashPassword('password1'));
  const old = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/users/alice/token', headers: bearer(old.token) })).status, 200);
  t.same(
    (await deps.users.get('alice'))?.revoked.map((r) => r.jti),
    [old.claims.jti],
  );
  now += 120_000;
  const fresh = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/users/alice/token', headers: bearer(fresh.token) })).status, 200);
  t.same(
    (await deps.users.get('alice'))?.revoked.map((r) => r.jti),
    [fresh.claims.jti],
    'the expired entry was dropped',
  );
});

t.test('the logout is announced on the bus, and the token no longer passes a recheck', async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  const { token } = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  const principal = await deps.auth.verifyBearer(bearer(token));
  const heard: Revocation[] = [];
  await onRevocation(deps.bus, async (r) => void heard.push(r), deps.log);
  t.equal(checkEpochOf(deps.config.root, 'alice'), undefined);
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/users/alice/token', method: 'DELETE', headers: bearer(token) })).status, 200);
  t.ok(checkEpochOf(deps.config.root, 'alice'), "a new check epoch: the Nginx app gateway's kept answers for the token are not used again");
  for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.same(heard, [{ user: 'alice', jti: principal.claims.jti }]);
  await t.rejects(deps.auth.recheck(principal), /revoked/, 'an open stream of this token is no longer valid');
});

t.test('a logout whose epoch cannot be written answers 503 saying the token is revoked all the same', async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  const { token, claims } = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  mkdirSync(path.join(deps.config.root, 'gateway'), { recursive: true });
  writeFileSync(path.join(deps.config.root, 'gateway', 'epochs'), 'not a folder');
  const a = await invoke(route, handle, deps, { path: '/api/v1/users/alice/token', method: 'DELETE', headers: bearer(token) });
  t.equal(a.status, 503);
  t.match(a.body, { msg: /^the token is revoked, but the app gateway could not be told .*up to 5 s$/ });
  t.same(
    (await deps.users.get('alice'))?.revoked.map((r) => r.jti),
    [claims.jti],
    'the revocation stands',
  );
});
