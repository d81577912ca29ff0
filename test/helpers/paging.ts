import type { Test } from 'tap';
import type { Deps } from '../../shared/wiring/deps.js';
import { nextLink } from '../../shared/http/link-header.js';
import type { RouteDef } from '../../shared/routes/route.js';
import { invoke } from './deps.js';

/**
 * The target of a `Link: <…>; rel="next"` header, or undefined when there is none. Read as the
 * clients read it; the header must also be just that one link, as shared/http/paging.ts writes it.
 */
export function nextOf(link: string | null | undefined): string | undefined {
  const next = nextLink(link);
  if (link && !/^<[^>]*>;\s*rel="next"$/.test(link)) throw new Error(`unexpected Link header: ${link}`);
  return next;
}

/**
 * A list handler's paging through the adapter: pages of `limit` follow the Link header from the
 * first to the last and hold `names` in order; bad limits and cursors are refused with 403 {msg};
 * without parameters the answer is the whole list, with no Link.
 */
export async function checkListPaging(t: Test, route: RouteDef, handle: unknown, deps: Deps, path: string, headers: Record<string, string>, names: string[], limit = 2): Promise<void> {
  const whole = await invoke(route, handle, deps, { path, headers });
  t.same(
    (whole.body as { name: string }[]).map((o) => o.name),
    names,
    'no parameters: the whole list',
  );
  t.notOk(whole.headers.link, 'and no Link');
  const seen: string[] = [];
  let query: Record<string, string> | undefined = { limit: String(limit) };
  let pages = 0;
  while (query) {
    const page = await invoke(route, handle, deps, { path, headers, query });
    t.equal(page.status, 200, `page ${pages + 1}: 200`);
    const body = page.body as { name: string }[];
    t.ok(body.length <= limit, `page ${pages + 1}: at most ${limit}`);
    seen.push(...body.map((o) => o.name));
    pages += 1;
    const next = nextOf(page.headers.link);
    if (!next) break;
    const url = new URL(next, 'http://x');
    t.equal(url.pathname, path, 'the Link names the same list');
    t.equal(url.searchParams.get('limit'), String(limit), 'with the same limit');
    query = Object.fromEntries(url.searchParams);
  }
  t.same(seen, names, `pages of ${limit} walk the list once, in order`);
  t.equal(pages, Math.max(1, Math.ceil(names.length / limit)), 'no Link on the last page, and no empty page after a full one');
  for (const bad of ['0', '1001', '-1', '1.5', 'ten', '', '01x']) {
    const r = await invoke(route, handle, deps, { path, headers, query: { limit: bad } });
    t.equal(r.status, 403, `limit "${bad}": 403`);
    t.match(r.body, { msg: /limit must be an integer from 1 to 1000/ });
  }
  for (const bad of ['!!', 'bm90IGpzb24', Buffer.from('[1,2]').toString('base64url'), Buffer.from('["yesterday","a/b"]').toString('base64url'), '']) {
    const r = await invoke(route, handle, deps, { path, headers, query: { limit: '5', after: bad } });
    t.equal(r.status, 403, `after "${bad}": 403`);
    t.match(r.body, { msg: /is not a cursor of this list/ });
  }
  t.equal((await invoke(route, handle, deps, { path, headers, query: { limit: '1000' } })).status, 200, 'limit 1000 is allowed');
}
