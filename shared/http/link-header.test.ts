import t from 'tap';
import { nextLink } from './link-header.js';

t.test('the rel="next" target of a Link header', async (t) => {
  t.equal(nextLink('</a?limit=2&after=x>; rel="next"'), '/a?limit=2&after=x', 'the one link the server writes');
  t.equal(nextLink('</p>; rel="prev", </n>; rel="next"'), '/n', 'next among others');
  t.equal(nextLink('<https://x.example/n?a=1,2>; rel="next", </p>; rel="prev"'), 'https://x.example/n?a=1,2', 'a comma inside <…> does not split');
  t.equal(nextLink('</n>; REL=Next'), '/n', 'rel and its value in any case, unquoted');
  t.equal(nextLink('</n>; title="x"; rel="prefetch next"'), '/n', 'one of several relations, after other parameters');
  t.equal(nextLink('</n>;rel=next'), '/n', 'without spaces');
});

t.test('no next link', async (t) => {
  t.equal(nextLink('</n>; rel="prev"'), undefined, 'another relation only');
  t.equal(nextLink('</n>; rel="nextpage"'), undefined, 'a relation that only starts with next');
  t.equal(nextLink('</n>; rel=""'), undefined, 'an empty relation');
  t.equal(nextLink('</n>'), undefined, 'no rel at all');
  t.equal(nextLink('/n; rel="next"'), undefined, 'a target without <…>');
  t.equal(nextLink(''), undefined, 'an empty header');
  t.equal(nextLink(null), undefined, 'no header (fetch)');
  t.equal(nextLink(undefined), undefined, 'no header (node:http)');
});
