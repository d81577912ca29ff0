import t from 'tap';
import { splitTarget } from './gateway.js';

const viaUrl = (target: string) => {
  const url = new URL(target, 'http://app-gateway');
  return { pathname: url.pathname, search: url.search };
};

t.test('a request target splits exactly as URL would split it', async (t) => {
  const samples = [
    '/alice/app/v1/models/m:predict',
    '/alice/app/v2/models/m/infer?x=1&y=%20',
    '/alice/app/',
    '/alice/app',
    '/alice/app/../../bob/app/x',
    '/alice/app/%2e%2e/x',
    '/alice/app/%2E%2E/x',
    '/alice/app/./x',
    '/alice/app/x/..',
    '/alice/app/x?a=../b',
    '//evil/app/x',
    '/alice/app/a\\b',
    '/alice/app/a b',
    '/alice/app/é',
    '/alice/app/x?q=é "<>',
    '/alice/app/x#frag',
    '/alice/app/x?y#frag',
    '/alice/app/{x}`|^',
    'http://other/alice/app/x',
    '*',
  ];
  for (const target of samples) t.same(splitTarget(target), viaUrl(target), target);
  // Random targets over an alphabet of the characters URL treats specially.
  const alphabet = [
    '/',
    '.',
    '..',
    '%2e',
    '%2E',
    '%',
    '?',
    '#',
    '\\',
    ' ',
    'é',
    'a',
    'Z',
    '0',
    '-',
    '_',
    '~',
    ':',
    '@',
    '!',
    '$',
    '&',
    "'",
    '(',
    ')',
    '*',
    '+',
    ',',
    ';',
    '=',
    '"',
    '<',
    '>',
    '`',
    '{',
    '}',
    '|',
    '^',
    '[',
    ']',
  ];
  const mismatches: string[] = [];
  let seed = 42;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 20_000; i++) {
    let target = '/u/a/';
    const n = next() % 12;
    for (let j = 0; j < n; j++) target += alphabet[next() % alphabet.length];
    if (JSON.stringify(splitTarget(target)) !== JSON.stringify(viaUrl(target))) mismatches.push(target);
  }
  t.same(mismatches.slice(0, 20), [], '20,000 random targets split as URL splits them');
});
