import type { Readable } from 'node:stream';
import { nextLink } from '../../shared/http/link-header.js';
import type { ClientConfig } from './config.js';

/** The header a refusal's stable code comes in (shared/http/error-header.ts). */
const CODE_HEADER = 'x-mlp-code';

/**
 * A refusal or fault, carrying the server's own msg (printed as is) and its stable code (the
 * x-mlp-code header, e.g. NOT_FOUND; docs/api.md#conventions): code branches on `code`, never on msg.
 */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    msg: string,
    readonly code?: string,
  ) {
    super(msg);
  }
}

export interface Api {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
  /**
   * A list, page by page: GET path?limit=…, then each Link rel="next" until there is none, so a
   * long list never comes as one huge answer. A server without pages answers the whole list once.
   */
  pages<T>(path: string, limit?: number): AsyncGenerator<T[]>;
  /** A WebDAV request; body may be a stream of known length. */
  dav(method: string, path: string, opts?: { body?: Readable; length?: number }): Promise<Response>;
}

export function api(config: Pick<ClientConfig, 'url' | 'token'>): Api {
  const headers = { authorization: `Bearer ${config.token}` };
  const check = async (res: Response): Promise<Response> => {
    if (res.ok) return res;
    const text = await res.text();
    let msg = text;
    try {
      msg = (JSON.parse(text) as { msg?: string }).msg ?? text;
    } catch {
      // not JSON: the raw text says what went wrong
    }
    throw new ServerError(res.status, msg || `HTTP ${res.status}`, res.headers.get(CODE_HEADER) ?? undefined);
  };
  const request = async (method: string, path: string, init: RequestInit = {}): Promise<Response> => {
    try {
      // A path, or a whole URL (a Link the server sent, already resolved).
      const target = /^https?:\/\//.test(path) ? path : `${config.url}${path}`;
      return await fetch(target, { method, ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
    } catch (err) {
      throw new Error(`cannot reach ${config.url}: ${(err as Error).cause ? String((err as Error).cause) : (err as Error).message}`);
    }
  };
  return {
    async json<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await check(await request(method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));
      return (await res.json()) as T;
    },
    async *pages<T>(path: string, limit = PAGE_SIZE): AsyncGenerator<T[]> {
      let next: string | undefined = `${path}${path.includes('?') ? '&' : '?'}limit=${limit}`;
      while (next) {
        const res = await check(await request('GET', next));
        const page = (await res.json()) as T[];
        const link = nextLink(res.headers.get('link'));
        next = link === undefined ? undefined : new URL(link, res.url).href;
        // The token goes with every request: never to a place the user did not log in to.
        if (next !== undefined && new URL(next).origin !== new URL(res.url).origin) throw new Error(`the next page of ${path} is on another server (${next}); not following it`);
        yield page;
      }
    },
    async dav(method, path, opts = {}) {
      const init: RequestInit & { duplex?: 'half' } = {};
      if (opts.body) {
        init.body = opts.body as unknown as RequestInit['body'];
        init.duplex = 'half';
        init.headers = { 'content-length': String(opts.length ?? 0) };
      }
      return check(await request(method, path, init));
    },
  };
}

/** How many objects the client asks for per page of a list (the server allows 1–1000). */
export const PAGE_SIZE = 200;

/** Each path segment percent-encoded, slashes kept. */
export const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');
