import { Invalid } from '../core/errors.js';
import { Reply } from '../routes/route.js';
import type { Collection, Cursor, Doc, Filter } from '../store/port.js';

/**
 * Pages of lists (docs/api.md#conventions): every list route takes `?limit=` (1–1000) and `?after=` (an opaque
 * cursor) and answers the page as the usual JSON array, with `Link: <…>; rel="next"` while more
 * remain. Without them the answer is the whole list, as before. Pages are keyset pages in
 * creation order (created_at, then _id), so a walk sees every object that exists throughout it
 * exactly once, objects created during it at its end, and a removed object shifts nothing.
 */
export const MAX_PAGE = 1000;

export interface PageQuery {
  limit?: number;
  after?: Cursor;
}

/** The paging parameters of a list request; anything malformed is a client error (403 {msg}). */
export function parsePageQuery(query: Record<string, string | undefined>): PageQuery {
  const out: PageQuery = {};
  const limit = query.limit;
  if (limit !== undefined) {
    if (!/^[0-9]{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_PAGE) throw new Invalid(`limit must be an integer from 1 to ${MAX_PAGE} (got "${clip(limit)}")`);
    out.limit = Number(limit);
  }
  const after = query.after;
  if (after !== undefined) out.after = decodeCursor(after);
  return out;
}

/** The cursor of a page's last object: base64url of JSON [created_at, _id]. Opaque to clients. */
export function encodeCursor(doc: Pick<Doc, 'created_at' | '_id'>): string {
  return Buffer.from(JSON.stringify([doc.created_at, doc._id]), 'utf8').toString('base64url');
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

export function decodeCursor(text: string): Cursor {
  const bad = () => new Invalid(`after "${clip(text)}" is not a cursor of this list; use the one in the Link header of the page before`);
  if (!/^[A-Za-z0-9_-]{1,600}$/.test(text)) throw bad();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  if (!Array.isArray(value) || value.length !== 2) throw bad();
  const [created_at, _id] = value as unknown[];
  if (typeof created_at !== 'string' || !ISO.test(created_at) || typeof _id !== 'string' || _id.length === 0 || _id.length > 300) throw bad();
  return { created_at, _id };
}

/** `Link` header value pointing at the next page: the same path, the same limit, the next cursor. */
export function nextLink(path: string, limit: number, cursor: string): string {
  return `<${path}?limit=${limit}&after=${cursor}>; rel="next"`;
}

/**
 * The one list helper of every list route: the whole list without paging parameters, else one
 * page (a read of limit + 1 tells whether more remain) with its Link header.
 * `path` is the list's own path as the client called it (percent-encoded), for the Link.
 */
export async function listPage<T extends Doc, V>(col: Collection<T>, filter: Filter<T>, query: Record<string, string | undefined>, path: string, view: (doc: T) => V): Promise<V[] | Reply> {
  const page = parsePageQuery(query);
  if (page.limit === undefined && page.after === undefined) return (await col.find(filter)).map(view);
  if (page.limit === undefined) return (await col.find(filter, { after: page.after })).map(view);
  const docs = await col.find(filter, { limit: page.limit + 1, ...(page.after ? { after: page.after } : {}) });
  const more = docs.length > page.limit;
  const shown = more ? docs.slice(0, page.limit) : docs;
  const last = shown[shown.length - 1];
  const headers: Record<string, string> = more && last ? { link: nextLink(path, page.limit, encodeCursor(last)) } : {};
  return new Reply(shown.map(view), undefined, headers);
}

/** The path of a user's list of a kind, as the Link header names it. */
export const userListPath = (user: string, kind: 'datasets' | 'jobs' | 'models' | 'apps' | 'sweeps') => `/api/v1/users/${encodeURIComponent(user)}/${kind}`;

function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
