import { nextLink } from '../../shared/http/link-header.js';

/** The platform's refusal or fault, with the API's own msg (docs/api.md#conventions: 403/503 {msg}). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The outcome's stable code (the x-mlp-code header, e.g. TOKEN_INVALID): branch on it, never on the message. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface Session {
  user: string;
  token: string;
}

export const authHeader = (s: Session) => ({ authorization: `Bearer ${s.token}` });

/** Reads an answer: its JSON on success, an ApiError with the API's msg otherwise. */
export async function answer<T>(res: Response): Promise<T> {
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text === '' ? '' : JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  if (!res.ok) {
    const msg = typeof body === 'object' && body !== null && typeof (body as { msg?: unknown }).msg === 'string' ? (body as { msg: string }).msg : `the platform answered ${res.status}`;
    throw new ApiError(msg, res.status, res.headers.get('x-mlp-code') ?? undefined);
  }
  return body as T;
}

export async function api<T>(method: string, path: string, opts: { session?: Session; body?: unknown; basic?: [string, string]; signal?: AbortSignal } = {}): Promise<T> {
  const headers: Record<string, string> = {};
  if (opts.session) Object.assign(headers, authHeader(opts.session));
  if (opts.basic) headers.authorization = `Basic ${btoa(unescape(encodeURIComponent(`${opts.basic[0]}:${opts.basic[1]}`)))}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), signal: opts.signal ?? null, cache: 'no-store' });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(`cannot reach the platform (${(err as Error).message})`, 0);
  }
  return answer<T>(res);
}

export const userPath = (s: Session, rest = '') => `/api/v1/users/${encodeURIComponent(s.user)}${rest}`;

export interface Dataset {
  name: string;
  state: string;
  progress: number;
  size: number;
  created_at?: string;
  msg?: string;
}
export interface Job {
  name: string;
  state: string;
  progress: number;
  entry: string;
  runtime: string;
  cpu: number;
  gpu: number;
  ram: number;
  created_at?: string;
  msg?: string;
  queue?: { position: number; eta_s: number | null };
  /** Launches allowed after a failure (docs/api.md#jobs), and launches so far. */
  retries?: number;
  attempt?: number;
}
export interface Model {
  name: string;
  state: string;
  size: number;
  src: string;
  created_at?: string;
  msg?: string;
}
export interface App {
  name: string;
  state: string;
  model_name: string;
  port: number;
  endpoint: string;
  cpu: number;
  gpu: number;
  ram: number;
  created_at?: string;
  msg?: string;
}
export interface Tenant {
  name: string;
  cpu: number;
  gpu: number;
  ram: number;
  rom: number;
  cpu_inuse: number;
  gpu_inuse: number;
  ram_inuse: number;
  rom_inuse: number;
}
export interface JobMetrics {
  epoch: number;
  accuracy: number;
  loss: number;
  progress: number;
}

/** A hyperparameter sweep (docs/api.md#experiments); `progress` is the share of trials that ended, 0–100. */
export interface Sweep {
  name: string;
  state: string;
  progress: number;
  entry: string;
  runtime: string;
  metric: 'accuracy' | 'loss';
  goal: 'max' | 'min';
  strategy: string;
  trials: number;
  parallel: number;
  early_stop: boolean;
  retries: number;
  best: { job: string; params: Record<string, unknown>; value: number; epoch: number } | null;
  created_at?: string;
  msg?: string;
}
/** One trial of a sweep: its job, its point of the space, and its best value of the sweep's metric so far. */
export interface Trial {
  job: string;
  params: Record<string, unknown>;
  state: string;
  value: number | null;
  epoch: number | null;
}

/** Rows asked for per page of a list (docs/api.md#conventions: lists come in pages). */
export const PAGE_SIZE = 200;
/** At most this many rows are fetched per list and refresh, so the 2-second refresh stays cheap. */
export const MAX_ROWS = 1000;

export interface Listed<T> {
  items: T[];
  /** Whether more rows exist than were fetched (the table says "showing first N"). */
  more: boolean;
}

/**
 * A list, page by page, as the CLI walks it (`pages()` in bin/src/api.ts): GET path?limit=200,
 * then each Link rel="next" of the same origin, until none is left or `max` rows are in.
 */
export async function list<T>(session: Session, path: string, max = MAX_ROWS): Promise<Listed<T>> {
  const items: T[] = [];
  let next: string | undefined = `${path}${path.includes('?') ? '&' : '?'}limit=${Math.min(PAGE_SIZE, max)}`;
  while (next !== undefined) {
    let res: Response;
    try {
      res = await fetch(next, { headers: authHeader(session), cache: 'no-store' });
    } catch (err) {
      throw new ApiError(`cannot reach the platform (${(err as Error).message})`, 0);
    }
    items.push(...(await answer<T[]>(res)));
    const link = nextLink(res.headers.get('link'));
    if (link === undefined) return { items, more: false };
    const url = new URL(link, res.url || location.href);
    // A page on another origin is never followed (the token would go with it).
    if (url.origin !== location.origin) throw new ApiError(`the next page of ${path} is on another origin (${url.origin}); not following it`, 0);
    if (items.length >= max) return { items: items.slice(0, max), more: true };
    next = url.pathname + url.search;
  }
  return { items, more: false };
}
