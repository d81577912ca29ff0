import t from 'tap';
import { Unavailable } from '../core/errors.js';
import { DECOY_HASH, hashing, hashPassword, MAX_CONCURRENT_HASHES, MAX_WAITING_HASHES, verifyPassword } from './password.js';

// A cheap hash (N=2) of the stored form, so the bound is reached without burning CPU.
const CHEAP = 'scrypt$2$1$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

t.test('a hash verifies its password only', async (t) => {
  const stored = await hashPassword('password1');
  t.ok(await verifyPassword('password1', stored));
  t.notOk(await verifyPassword('password2', stored));
  t.equal(DECOY_HASH.split('$').slice(0, 4).join('$'), stored.split('$').slice(0, 4).join('$'), 'the decoy costs what a real hash costs');
  t.equal(DECOY_HASH.length, stored.length);
});

t.test('at most a few hashes run at once; past a bounded queue a check is refused', async (t) => {
  const checks = Array.from({ length: MAX_CONCURRENT_HASHES + MAX_WAITING_HASHES }, () => verifyPassword('x', CHEAP));
  t.same(hashing(), { running: MAX_CONCURRENT_HASHES, waiting: MAX_WAITING_HASHES });
  await t.rejects(verifyPassword('x', CHEAP), Unavailable, 'one more is refused as a fault (503), not a client error');
  await t.rejects(verifyPassword('x', CHEAP), /too many password checks/);
  t.same(
    await Promise.all(checks),
    checks.map(() => false),
    'the waiting ones all ran',
  );
  t.same(hashing(), { running: 0, waiting: 0 });
});
