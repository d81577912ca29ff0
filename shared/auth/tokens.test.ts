import t from 'tap';
import { createTokenService } from './tokens.js';

const SECRET = 'x'.repeat(40);

t.test('a token checked once is still refused once expired, and a forged one never passes', async (t) => {
  let clock = new Date('2026-01-01T00:00:00Z');
  const tokens = createTokenService({ secret: SECRET, ttlSeconds: 60, now: () => clock });
  const { token, claims } = await tokens.issue({ sub: 'alice', kind: 'user' });
  t.same(await tokens.verify(token), claims);
  t.same(await tokens.verify(token), claims, 'the second check (from memory) answers the same');
  const [head, body] = token.split('.');
  const forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, sub: 'bob', iss: 'mlp' })).toString('base64url')}.${token.split('.')[2]}`;
  await t.rejects(tokens.verify(forged), /token is invalid/, 'another payload with the same signature');
  t.ok(body, 'the token has a payload');
  const other = createTokenService({ secret: 'y'.repeat(40), ttlSeconds: 60, now: () => clock });
  await t.rejects(other.verify(token), /token is invalid/, 'another key does not accept it');
  clock = new Date(clock.getTime() + 61_000);
  await t.rejects(tokens.verify(token), /token has expired/, 'expiry is checked on every use');
});

t.test('a remembered signature is checked again after the short window, and a token past expiry is refused even from memory', async (t) => {
  let clock = new Date('2026-01-01T00:00:00Z');
  const tokens = createTokenService({ secret: SECRET, ttlSeconds: 60, now: () => clock });
  const { token, claims } = await tokens.issue({ sub: 'alice', kind: 'user' });
  t.same(await tokens.verify(token), claims);
  clock = new Date(clock.getTime() + 11_000);
  t.same(await tokens.verify(token), claims, 'checked again after 10 s: still good');
  const copy = await tokens.verify(token);
  copy.sub = 'mallory';
  t.equal((await tokens.verify(token)).sub, 'alice', 'callers get a copy; the remembered claims cannot be changed');
  clock = new Date(clock.getTime() + 50_000);
  await t.rejects(tokens.verify(token), /token has expired/);
});
