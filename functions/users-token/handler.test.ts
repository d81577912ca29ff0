import t from 'tap';
import { hashPassword } from '../../shared/auth/password.js';
import { basic, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import { TRIES_PER_ADDRESS, TRIES_PER_USER } from './attempts.js';
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

t.test('tries past the bound per user, or per address, are refused alike for existing and missing users', async (t) => {
  const deps = await testDeps(t, {}, { now: () => new Date(0) });
  await deps.users.create('alice', await hashPassword('password1'));
  const tryLogin = (user: string, password: string, address?: string) =>
    invoke(route, handle, deps, { path: `/api/v1/users/${user}/token`, headers: { ...basic(user, password), ...(address ? { 'x-real-ip': address } : {}) } });
  const answers = { alice: [] as unknown[], ghost: [] as unknown[] };
  for (let i = 0; i < TRIES_PER_USER.burst; i++) {
    answers.alice.push((await tryLogin('alice', 'wrong-password', '10.0.0.1')).body);
    answers.ghost.push((await tryLogin('ghost', 'password1', '10.0.0.1')).body);
  }
  t.same(answers.ghost, answers.alice, 'a missing user and a wrong password answer alike');
  const aliceOver = await tryLogin('alice', 'password1', '10.0.0.2');
  const ghostOver = await tryLogin('ghost', 'password1', '10.0.0.2');
  t.match(aliceOver, { status: 403, body: { msg: /too many token requests for user alice/ } }, 'even the right password waits its turn');
  t.same(JSON.stringify(ghostOver.body).replace('ghost', 'X'), JSON.stringify(aliceOver.body).replace('alice', 'X'));
  const names = Array.from({ length: TRIES_PER_ADDRESS.burst - 2 * TRIES_PER_USER.burst }, (_, i) => `n${String.fromCharCode(97 + (i % 26), 97 + Math.floor(i / 26))}`);
  for (const name of names) t.match((await tryLogin(name, 'password1', '10.0.0.1')).body, { msg: /wrong username or password/ });
  t.match(await tryLogin('bob', 'password1', '10.0.0.1'), { status: 403, body: { msg: /too many token requests from this address/ } });
  t.match(await tryLogin('bob', 'password1', '10.0.0.3'), { status: 403, body: { msg: /wrong username or password/ } }, 'another address is not held up');
});
