import { readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { UserDoc } from '../../shared/records/users.js';
import { startTestPlatform, storeBackends, type Answer, type TestPlatform } from '../helpers/platform.js';

// docs/api.md#conventions and #users end to end over HTTP, on every store backend available.
const PW = 'correct-horse';

function refused(t: Test, answer: Answer, msg?: RegExp) {
  t.equal(answer.status, 403, `403 (got ${answer.status} ${answer.text})`);
  t.match(answer.json, { msg: String }, 'body is {msg}');
  t.same(Object.keys(answer.json as object), ['msg'], 'and nothing else');
  if (msg) t.match((answer.json as { msg: string }).msg, msg);
}

for (const backend of storeBackends()) {
  t.test(`users API on the ${backend.name} store`, async (t) => {
    let clock = Date.now();
    const p: TestPlatform = await startTestPlatform({ ...backend.env, MLP_TOKEN_TTL: '3600' }, { now: () => new Date(clock) });
    t.teardown(() => p.close());
    const register = (username: string, password = PW) => p.call('POST', '/api/v1/users', { body: { username, password } });
    const login = async (username: string, password = PW) => (await p.call('GET', `/api/v1/users/${username}/token`, { basic: [username, password] })).json as string;
    const userDoc = (name: string) => p.deps.store.collection<UserDoc>('user').get(name);

    t.test('register answers 201 with the user, never the password', async (t) => {
      const a = await register('alice');
      t.equal(a.status, 201);
      t.match(a.json, { username: 'alice', state: 'Actived', created_at: String, updated_at: String });
      t.notMatch(a.text, /password|correct-horse|scrypt/);
      t.equal(a.headers.get('content-type'), 'application/json');
    });

    t.test('the password is stored only as a salted scrypt hash', async (t) => {
      const doc = await userDoc('alice');
      t.match(doc?.password_hash, /^scrypt\$16384\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
      t.notMatch(JSON.stringify(doc), /correct-horse/);
      if (backend.name === 'embedded') {
        t.notMatch(readFileSync(path.join(p.root, 'store', 'store.jsonl'), 'utf8'), /correct-horse/, 'not on disk either');
      }
      await register('carol');
      t.not((await userDoc('carol'))?.password_hash, doc?.password_hash, 'same password, different salt');
    });

    t.test('a taken name is refused, also after deactivation', async (t) => {
      refused(t, await register('alice', 'another-password'), /alice already exists/);
      t.ok(await login('alice'), 'the first registration is untouched');
    });

    t.test('strict schemas: every malformed body is 403 {msg} and creates nothing', async (t) => {
      const cases: [string, { body?: unknown; rawBody?: string; headers?: Record<string, string> }, RegExp][] = [
        ['not JSON', { rawBody: '{"username":' }, /not valid JSON/],
        ['empty body', { rawBody: '' }, /must be a JSON object/],
        ['an array', { body: [] }, /must be a JSON object/],
        ['unknown field', { body: { username: 'dave', password: PW, admin: true } }, /unknown field "admin"/],
        ['missing password', { body: { username: 'dave' } }, /missing field "password"/],
        ['missing username', { body: { password: PW } }, /missing field "username"/],
        ['username a number', { body: { username: 7, password: PW } }, /"username" must be a string/],
        ['username null', { body: { username: null, password: PW } }, /must be a string, not null/],
        ['password a number', { body: { username: 'dave', password: 12345678 } }, /"password" must be a string/],
        ['upper case', { body: { username: 'Dave', password: PW } }, /must match \^\[a-z\]\{1,50\}\$/],
        ['digit', { body: { username: 'dave1', password: PW } }, /must match/],
        ['too long', { body: { username: 'd'.repeat(51), password: PW } }, /must match/],
        ['empty name', { body: { username: '', password: PW } }, /must match/],
        ['short password', { body: { username: 'dave', password: '1234567' } }, /at least 8/],
        ['long password', { body: { username: 'dave', password: 'x'.repeat(129) } }, /at most 128/],
      ];
      for (const [label, opts, msg] of cases) {
        const a = await p.call('POST', '/api/v1/users', opts);
        t.test(label, async (t) => refused(t, a, msg));
      }
      t.equal(await userDoc('dave'), null, 'no refused request created dave');
      t.equal((await p.call('POST', '/api/v1/users', { body: { username: 'd'.repeat(50), password: 'x'.repeat(128) } })).status, 201, 'the limits themselves are accepted');
    });

    t.test('token: Basic credentials trade for a JWT; every refusal looks the same', async (t) => {
      const ok = await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', PW] });
      t.equal(ok.status, 200);
      t.match(ok.json, /^[\w-]+\.[\w-]+\.[\w-]+$/);
      const second = await login('alice');
      t.not(second, ok.json, 'two logins in the same second get different tokens');
      const wrongPw = await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'wrong-password'] });
      const unknown = await p.call('GET', '/api/v1/users/nobody/token', { basic: ['nobody', PW] });
      const otherPath = await p.call('GET', '/api/v1/users/carol/token', { basic: ['alice', PW] });
      for (const a of [wrongPw, unknown, otherPath]) refused(t, a);
      t.same(unknown.json, wrongPw.json, 'unknown user and wrong password give the same answer');
      t.same(otherPath.json, wrongPw.json);
      refused(t, await p.call('GET', '/api/v1/users/alice/token'), /Basic/);
      refused(t, await p.call('GET', '/api/v1/users/alice/token', { headers: { authorization: 'Basic !!!' } }), /Basic/);
    });

    t.test('auth answers the username of a valid token, from the header or ?token=', async (t) => {
      const token = await login('alice');
      const a = await p.call('GET', '/api/v1/auth', { token });
      t.equal(a.status, 200);
      t.equal(a.json, 'alice');
      t.equal((await p.call('GET', `/api/v1/auth?token=${token}`)).json, 'alice');
      refused(t, await p.call('GET', '/api/v1/auth'), /missing token/);
      refused(t, await p.call('GET', '/api/v1/auth', { token: 'garbage' }), /invalid/);
      refused(t, await p.call('GET', '/api/v1/auth', { token: token.slice(0, -3) + (token.endsWith('AAA') ? 'BBB' : 'AAA') }), /invalid/);
      refused(t, await p.call('GET', '/api/v1/auth', { token: p.deps.serviceToken }), /service token/);
      refused(t, await p.call('GET', '/api/v1/auth', { headers: { authorization: `Token ${token}` } }), /Bearer/);
    });

    t.test("owner-only: another user's token is refused on every route, changing nothing", async (t) => {
      const bob = (await register('bob'), await login('bob'));
      for (const [method, route] of [
        ['GET', '/api/v1/users/alice'],
        ['PUT', '/api/v1/users/alice'],
        ['DELETE', '/api/v1/users/alice/token'],
        ['GET', '/api/v1/users/ghost'],
      ] as const) {
        refused(t, await p.call(method, route, { token: bob }), /belongs to bob/);
      }
      t.equal((await userDoc('alice'))?.state, 'Actived', 'bob could not deactivate alice');
      t.equal((await p.call('GET', '/api/v1/users/alice', { token: await login('alice') })).status, 200, 'alice still works');
    });

    t.test("get answers the owner's user", async (t) => {
      const a = await p.call('GET', '/api/v1/users/alice', { token: await login('alice') });
      t.equal(a.status, 200);
      t.same(Object.keys(a.json as object).sort(), ['created_at', 'state', 'updated_at', 'username']);
      refused(t, await p.call('GET', '/api/v1/users/alice'), /missing token/);
    });

    t.test('logout revokes only the token presented', async (t) => {
      const first = await login('alice');
      const second = await login('alice');
      const out = await p.call('DELETE', '/api/v1/users/alice/token', { token: first });
      t.equal(out.status, 200);
      t.equal(out.json, '');
      refused(t, await p.call('GET', '/api/v1/users/alice', { token: first }), /revoked/);
      refused(t, await p.call('GET', '/api/v1/auth', { token: first }), /revoked/);
      t.equal((await p.call('GET', '/api/v1/auth', { token: second })).json, 'alice', 'the other token still works');
    });

    t.test('expired tokens are refused', async (t) => {
      const token = await login('carol');
      t.equal((await p.call('GET', '/api/v1/auth', { token })).status, 200);
      clock += 3601 * 1000;
      refused(t, await p.call('GET', '/api/v1/auth', { token }), /expired/);
      refused(t, await p.call('GET', '/api/v1/users/carol', { token }), /expired/);
      t.ok(await login('carol'), 'a new login works');
    });

    t.test('deactivate: any body, every token dies, no new token, the name stays taken', async (t) => {
      const first = await login('bob');
      const second = await login('bob');
      const a = await p.call('PUT', '/api/v1/users/bob', { token: first, rawBody: 'not even json' });
      t.equal(a.status, 200);
      t.match(a.json, { username: 'bob', state: 'NotActive' });
      for (const token of [first, second]) {
        refused(t, await p.call('GET', '/api/v1/auth', { token }), /deactivated/);
        refused(t, await p.call('GET', '/api/v1/users/bob', { token }), /deactivated/);
      }
      const relogin = await p.call('GET', '/api/v1/users/bob/token', { basic: ['bob', PW] });
      refused(t, relogin);
      t.same(relogin.json, (await p.call('GET', '/api/v1/users/bob/token', { basic: ['bob', 'wrong-password'] })).json, 'same answer as a wrong password');
      refused(t, await register('bob'), /already exists/);
      t.equal((await userDoc('bob'))?.state, 'NotActive', 'the user record stays');
    });

    t.test('unknown routes and methods are 403 {msg}, never 404/405/500', async (t) => {
      refused(t, await p.call('GET', '/api/v1/nothing'), /no route GET \/api\/v1\/nothing/);
      refused(t, await p.call('PATCH', '/api/v1/users'), /method PATCH is not allowed/);
      refused(t, await p.call('GET', '/api/v1/users/alice/token:heartbeat'), /no route/);
      refused(t, await p.call('GET', '/api/v1/users/Alice', { token: await login('alice') }), /belongs to alice/);
    });

    t.test('a body larger than 1 MiB is refused without reading it all', async (t) => {
      refused(t, await p.call('POST', '/api/v1/users', { rawBody: JSON.stringify({ username: 'big', password: 'x'.repeat(2 * 1024 * 1024) }) }), /larger than/);
      t.equal(await userDoc('big'), null);
    });
  });
}
