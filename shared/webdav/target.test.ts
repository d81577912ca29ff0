import t from 'tap';
import { encodedRestOf, resolveTarget, segmentProblem } from './target.js';

t.test('real file names: any UTF-8 segment of 1–255 bytes without /, NUL or control characters', async (t) => {
  for (const name of ['a b.txt', 'a#b', '100%.csv', 'why?.md', 'données.csv', 'IMG 001 (1).jpg', '数据.bin', '.hidden', '...', "it's & <x>", 'é'.repeat(127)]) {
    t.equal(segmentProblem(name), undefined, `${JSON.stringify(name)} is a name`);
  }
  const refused: [string, RegExp][] = [
    ['', /empty/],
    ['.', /is "\."/],
    ['..', /is "\.\."/],
    ['a\u0000b', /NUL or control/],
    ['a\nb', /NUL or control/],
    ['a\u007fb', /NUL or control/],
    ['a\u0085b', /NUL or control/],
    ['x'.repeat(256), /256 bytes/],
    ['é'.repeat(128), /256 bytes/],
    ['%2e%2e', /percent-encoded twice/],
    ['%2E.', /percent-encoded twice/],
    ['..%2F', /percent-encoded twice/],
    ['a%00b', /percent-encoded twice/],
    ['a\ud800b', /not UTF-8/],
  ];
  for (const [name, why] of refused) t.match(segmentProblem(name), why, `${JSON.stringify(name.slice(0, 20))} is refused`);
  t.equal(segmentProblem('x'.repeat(255)), undefined, '255 bytes is the most');
});

t.test('a path is split first, then each segment decoded exactly once', async (t) => {
  const target = resolveTarget('alice', 'mnist/IMG%20001%20(1).jpg');
  t.same(target.parts, ['IMG 001 (1).jpg']);
  t.same(resolveTarget('alice', '.home/a%23b/d%C3%A9j%C3%A0%3F/100%25').parts, ['a#b', 'déjà?', '100%']);
  t.same(resolveTarget('alice', '.home/dir/').parts, ['dir'], 'a trailing slash names the folder');
  t.equal(resolveTarget('alice', '.home/dir/').slash, true);
  t.throws(() => resolveTarget('alice', '.home/a%2Fb'), /holds a "\/"/, 'an encoded separator stays in its segment, and is refused');
  t.throws(() => resolveTarget('alice', '.home/..%2F..%2Fx'), /holds a "\/"/);
  t.throws(() => resolveTarget('alice', '.home/%2e%2e/x'), /is "\.\."/, 'an encoded .. is ..');
  t.throws(() => resolveTarget('alice', '.home/%252e%252e/x'), /percent-encoded twice/, 'double encoding is refused, not decoded twice');
  t.throws(() => resolveTarget('alice', '.home/a%00b'), /NUL or control/);
  t.throws(() => resolveTarget('alice', '.home/%E9t%E9'), /not valid percent-encoded UTF-8/, 'Latin-1 bytes are not UTF-8');
  t.throws(() => resolveTarget('alice', '.home/a//b'), /empty/);
  t.throws(() => resolveTarget('alice', `.home/${'x'.repeat(256)}`), /256 bytes/);
  t.throws(() => resolveTarget('alice', '%2e%2e/x'), /neither \.home nor a dataset name/);
});

t.test('the path is taken as the request line sent it', async (t) => {
  t.equal(encodedRestOf('/data/alice/.home/a%2Fb?x=1', 'alice'), '.home/a%2Fb');
  t.throws(() => encodedRestOf('/data/%61lice/.home/a', 'alice'), /must be \/data\/alice\//);
  t.throws(() => encodedRestOf('/data/bob/../alice/.home/a', 'alice'), /without dot segments/);
});
