import t from 'tap';
import { startTestPlatform } from '../../test/helpers/platform.js';

// The token service remembers checked signatures (shared/auth/tokens.ts); a remembered token
// must still be refused on the very next request after its logout or its user's deactivation.
t.test('a token the gateway has just verified (and cached) is refused right after logout and deactivation', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  const login = async (username: string) => {
    await p.call('POST', '/api/v1/users', { body: { username, password: 'password1' } });
    return (await p.call('GET', `/api/v1/users/${username}/token`, { basic: [username, 'password1'] })).json as string;
  };

  const alice = await login('alice');
  for (let i = 0; i < 3; i++) t.equal((await p.call('GET', '/api/v1/auth', { token: alice })).status, 200, `use ${i + 1}: accepted`);
  t.equal((await p.call('DELETE', '/api/v1/users/alice/token', { token: alice })).status, 200, 'logout');
  const afterLogout = await p.call('GET', '/api/v1/users/alice', { token: alice });
  t.equal(afterLogout.status, 403, 'refused on the next request');
  t.match(afterLogout.json, { msg: /revoked/ });

  const bob = await login('bob');
  const other = await login('bob');
  for (const token of [bob, other]) t.equal((await p.call('GET', '/api/v1/users/bob', { token })).status, 200, 'both tokens verified and remembered');
  t.equal((await p.call('PUT', '/api/v1/users/bob', { token: bob, body: {} })).status, 200, 'deactivate');
  for (const token of [bob, other]) {
    const a = await p.call('GET', '/api/v1/auth', { token });
    t.equal(a.status, 403, 'refused on the next request');
    t.match(a.json, { msg: /deactivated/ });
  }
});
