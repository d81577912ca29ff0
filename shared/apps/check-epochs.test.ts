import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { bumpCheckEpoch, checkEpochsDir } from './check-epochs.js';

const temp = (t: Test) => {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-epochs-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
};

t.test('each bump leaves a new epoch, readable by others, and no temporary file', async (t) => {
  const root = temp(t);
  const file = path.join(checkEpochsDir(root), 'alice');
  const seen = new Set<string>();
  for (let i = 0; i < 5; i++) {
    await bumpCheckEpoch(root, 'alice', 'test');
    seen.add(readFileSync(file, 'utf8'));
  }
  t.equal(seen.size, 5, 'five bumps, five epochs');
  for (const e of seen) t.match(e, /^[A-Za-z0-9_-]{16}$/, 'no "/" (it is one part of the key)');
  t.equal(statSync(file).mode & 0o777, 0o644, 'the gateway (another uid) can read it');
  t.equal(statSync(checkEpochsDir(root)).mode & 0o777, 0o755);
  await Promise.all(['alice', 'alice', 'bob', 'alice'].map((u) => bumpCheckEpoch(root, u, 'test')));
  t.same(readdirSync(checkEpochsDir(root)).sort(), ['alice', 'bob'], 'concurrent bumps leave one file per user');
});

t.test('a user name out of pattern is refused (it becomes a path)', async (t) => {
  const root = temp(t);
  for (const bad of ['../x', 'Alice', '', 'a/b', 'x'.repeat(51)]) await t.rejects(bumpCheckEpoch(root, bad, 'test'), /not a user name/, JSON.stringify(bad));
});

t.test('an epoch that cannot be written is a 503 saying what stands and what may not hold', async (t) => {
  const root = temp(t);
  mkdirSync(path.join(root, 'gateway'));
  writeFileSync(path.join(root, 'gateway', 'epochs'), 'a file where the folder should be');
  await t.rejects(bumpCheckEpoch(root, 'alice', 'the token is revoked'), {
    name: 'Unavailable',
    message: /^the token is revoked, but the app gateway could not be told \(.*\); it may go on serving for up to 5 s$/,
  });
});
