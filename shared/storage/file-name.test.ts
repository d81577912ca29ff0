import t from 'tap';
import { segmentProblem } from './file-name.js';

t.test('a file name: any UTF-8 segment of 1–255 bytes without /, NUL or control characters, not . or ..', async (t) => {
  for (const name of ['a b.txt', 'a#b', '100%.csv', 'why?.md', 'données.csv', 'IMG 001 (1).jpg', '数据.bin', '.hidden', '...', "it's & <x>", 'é'.repeat(127), 'x'.repeat(255), 'a%zz']) {
    t.equal(segmentProblem(name), undefined, `${JSON.stringify(name.slice(0, 20))} is a name`);
  }
  const refused: [string, string][] = [
    ['', 'is empty'],
    ['.', 'is "."'],
    ['..', 'is ".."'],
    ['a/b', 'holds a "/"'],
    ['a\u0000b', 'holds a NUL or control character'],
    ['tab\there.txt', 'holds a NUL or control character'],
    ['a\u007fb', 'holds a NUL or control character'],
    ['a\u0085b', 'holds a NUL or control character'],
    ['x'.repeat(256), 'is 256 bytes; a name is at most 255'],
    ['é'.repeat(128), 'is 256 bytes; a name is at most 255'],
    ['%2e%2e', 'is percent-encoded twice'],
    ['%2E.', 'is percent-encoded twice'],
    ['..%2F', 'is percent-encoded twice'],
    ['a%5Cb', 'is percent-encoded twice'],
    ['a%00b', 'is percent-encoded twice'],
    ['a\ud800b', 'is not UTF-8'],
  ];
  for (const [name, why] of refused) t.equal(segmentProblem(name), why, `${JSON.stringify(name.slice(0, 20))} ${why}`);
});
