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

t.test('for /data (X-Original-URI): 401 with the Basic challenge without credentials, Basic with a token accepted', async (t) => {
  const deps = await testDeps(t);
  await deps.users.create('alice', await hashPassword('password1'));
  const { token } = await deps.tokens.issue({ sub: 'alice', kind: 'user' });
  const dav = { 'x-original-uri': '/data/alice/.home/' };
  const none = await invoke(route, handle, deps, { path: '/api/v1/auth', headers: dav });
  t.equal(none.status, 401);
  t.equal(none.headers['www-authenticate'], 'Basic realm="MLP"');
  const basic = (user: string, password: string) => ({ ...dav, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/auth', headers: basic('alice', token) })).body, 'alice');
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/auth', headers: basic('alice', 'password1') })).status, 403, 'a password is not a token');
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/auth', headers: basic('bob', token) })).status, 403, 'another username');
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/auth' })).status, 403, 'elsewhere no credentials stay 403');
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/auth', headers: { authorization: basic('alice', token).authorization } })).status, 403, 'and Basic is not a token');
});
