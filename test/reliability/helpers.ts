import http from 'node:http';
import type { CollectionName } from '../../shared/store/port.js';
import type { Deps } from '../../shared/wiring/deps.js';

/** Every collection the platform keeps (store/port.ts CollectionName), but the conformance suite's own. */
export const COLLECTIONS: CollectionName[] = ['user', 'tenant', 'resource_request', 'job', 'metrics', 'model', 'dataset', 'app_group', 'app_port'];

/** The store's collections as JSON text, each sorted by _id: equal snapshots mean nothing changed. */
export async function snapshot(deps: Deps): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of COLLECTIONS) {
    const docs = (await deps.store.collection(name).find()) as { _id: string }[];
    out[name] = JSON.stringify(docs.sort((a, b) => (a._id < b._id ? -1 : a._id > b._id ? 1 : 0)));
  }
  return out;
}

export interface RawAnswer {
  status: number;
  text: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One request with exactly these headers and bytes (no fetch rules on content-type or length). */
export function rawRequest(base: string, method: string, urlPath: string, headers: Record<string, string>, body?: Buffer | string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + urlPath, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Runs tasks with at most `limit` at once. */
export async function pool<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await run(items[next++] as T);
    }),
  );
}

/** A route's path with its parameters filled in. */
export function fillPath(path: string, values: Record<string, string>): string {
  return path.replace(/\{([a-z_]+)\+?\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for {${name}} in ${path}`);
    return v;
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
