import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { bytesIn, openFileIn, openIn, openUnder, removeIn, walk } from './confined.js';

function tree(t: Test) {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-confined-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(path.join(root, 'a', 'sub'), { recursive: true });
  mkdirSync(path.join(root, 'other'));
  writeFileSync(path.join(root, 'other', 'secret'), 'secret');
  writeFileSync(path.join(root, 'a', 'sub', 'f'), 'abc');
  symlinkSync('../other/secret', path.join(root, 'a', 'link'));
  symlinkSync('../other', path.join(root, 'a', 'dirlink'));
  return root;
}

t.test('a folder swapped for a link after it was opened is still the folder opened', async (t) => {
  const root = tree(t);
  const sub = await openUnder(root, ['a', 'sub'], false);
  t.ok(sub);
  if (!sub) return;
  t.teardown(() => sub.close());
  // A job moves the folder away and puts a link to another user's folder in its place.
  renameSync(path.join(root, 'a', 'sub'), path.join(root, 'a', 'moved'));
  symlinkSync('../other', path.join(root, 'a', 'sub'));
  await writeFile(sub.at('written'), 'x');
  t.equal(readFileSync(path.join(root, 'a', 'moved', 'written'), 'utf8'), 'x', 'the write lands in the folder that was opened');
  t.same(
    (await walk(sub)).map((e) => e.path),
    ['f', 'written'],
  );
  await t.rejects(openUnder(root, ['a', 'sub'], false), /a\/sub is a link; links are not followed/, 'opened again, the link is refused');
});

t.test('links are refused on the way, left out of listings and sizes, and removed as links', async (t) => {
  const root = tree(t);
  const a = await openUnder(root, ['a'], false);
  t.ok(a);
  if (!a) return;
  t.teardown(() => a.close());
  await t.rejects(openIn(a, ['dirlink'], false), /dirlink is a link/);
  await t.rejects(openFileIn(a, 'link'), /link is a link/);
  t.same(
    (await walk(a)).map((e) => e.path),
    ['sub', 'sub/f'],
    'links are not listed',
  );
  t.equal(await bytesIn(a), 3);
  t.equal(await openUnder(root, ['a', 'missing'], false), null);
  await removeIn(a, 'dirlink');
  t.equal(readFileSync(path.join(root, 'other', 'secret'), 'utf8'), 'secret', 'removing a link leaves its target');
  await removeIn(a, 'sub');
  t.same(
    (await walk(a)).map((e) => e.path),
    [],
    'a folder goes with what is in it',
  );
});
