import t from 'tap';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('handler creates an Actived user with a hashed password', async (t) => {
  const deps = await testDeps(t);
  const view = await handle({ body: { username: 'alice', password: 'password1' }, params: {}, query: {}, headers: {}, principal: { kind: 'anonymous' }, requestId: 'r1' }, deps);
  t.match(view, { username: 'alice', state: 'Actived' });
  t.notMatch(JSON.stringify(view), /password/);
  t.match((await deps.users.get('alice'))?.password_hash, /^scrypt\$/);
});

t.test('through the adapter: 201, then 403 for the same name', async (t) => {
  const deps = await testDeps(t);
  const first = await invoke(route, handle, deps, { path: '/api/v1/users', body: { username: 'bob', password: 'password1' } });
  t.equal(first.status, 201);
  const again = await invoke(route, handle, deps, { path: '/api/v1/users', body: { username: 'bob', password: 'password2' } });
  t.equal(again.status, 403);
  t.same(again.body, { msg: 'user bob already exists' });
  t.equal(again.headers['x-mlp-error'], JSON.stringify({ msg: 'user bob already exists' }), 'the gateway can answer with the same body');
});
