import type { Readable } from 'node:stream';
import type { ClientConfig } from './config.js';

/** A refusal or fault, carrying the server's own msg (printed as is). */
export class ServerError extends Error {
  constructor(
    readonly status: number,
    msg: string,
  ) {
    super(msg);
  }
}

export interface Api {
  json<T>(method: string, path: string, body?: unknown): Promise<T>;
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
    throw new ServerError(res.status, msg || `HTTP ${res.status}`);
  };
  const request = async (method: string, path: string, init: RequestInit = {}): Promise<Response> => {
    try {
      return await fetch(`${config.url}${path}`, { method, ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
    } catch (err) {
      throw new Error(`cannot reach ${config.url}: ${(err as Error).cause ? String((err as Error).cause) : (err as Error).message}`);
    }
  };
  return {
    async json<T>(method: string, path: string, body?: unknown): Promise<T> {
      const res = await check(await request(method, path, body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }));
      return (await res.json()) as T;
    },
    async dav(method, path, opts = {}) {
      const init: RequestInit & { duplex?: 'half' } = {};
      if (opts.body) {
        init.body = opts.body as unknown as RequestInit["body"];
        init.duplex = 'half';
        init.headers = { 'content-length': String(opts.length ?? 0) };
      }
      return check(await request(method, path, init));
    },
  };
}

/** Each path segment percent-encoded, slashes kept. */
export const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');
