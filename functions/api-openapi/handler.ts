import { createHash } from 'node:crypto';
import { Reply, type Handler } from '../../shared/routes/route.js';
import type route from './route.js';

// Written by npm run gen beside this file (scripts/gen/openapi.ts), byte for byte the root
// openapi.json; imported so the build copies it into dist/ and the function's image carries it.
// Loaded on the first request: a missing or broken file is then a 503, not a process that fails to start.
let document: { text: string; etag: string } | undefined;

async function load(): Promise<{ text: string; etag: string }> {
  const { default: doc } = await import('./openapi.json', { with: { type: 'json' } });
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  return { text, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
}

export const handle: Handler<typeof route> = async ({ headers }) => {
  document ??= await load();
  const cache = {
    // Revalidated on each use (a deployment changes it), cheaply through the ETag.
    'cache-control': 'no-cache',
    etag: document.etag,
    // Readable by API tools running on other origins; it holds no secret.
    'access-control-allow-origin': '*',
  };
  if (headers['if-none-match'] === document.etag) return new Reply('', 304, { 'content-type': 'application/json', ...cache });
  return new Reply(document.text, 200, { 'content-type': 'application/json; charset=utf-8', ...cache });
};
