import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Unavailable } from '../errors.js';
import { Reply } from '../route.js';

// The browser UI, one page built by scripts/bundle-ui.mjs into dist/client/web/ (which every
// function image holds). This module runs from dist/ or from the source tree, two folders below
// either. web-index and web-pages serve it at the UI's paths.
const DIRS = ['../../client/web/', '../../dist/client/web/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));

interface Page {
  html: string;
  /** Compressed once at load: the page is ~85 KiB, ~35 KiB gzipped. */
  gzip: Buffer;
  headers: Record<string, string>;
}
let page: Page | undefined;

async function load(): Promise<Page> {
  for (const dir of DIRS) {
    try {
      const [html, meta] = await Promise.all([readFile(`${dir}index.html`, 'utf8'), readFile(`${dir}page.json`, 'utf8')]);
      const headers = { ...(JSON.parse(meta) as { headers: Record<string, string> }).headers, vary: 'accept-encoding' };
      return { html, gzip: gzipSync(html, { level: 9 }), headers };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Unavailable('the browser UI is not built on this server (npm run build makes it)');
}

/** The page, or 304 when the browser has it; gzipped for browsers that accept it (its own ETag then). */
export async function pageReply(headers: Record<string, string | undefined>): Promise<Reply> {
  page ??= await load();
  const etag = page.headers.etag ?? '';
  const gzipEtag = etag.replace(/"$/, '-gz"');
  const gzip = /\bgzip\b/.test(headers['accept-encoding'] ?? '');
  const tag = gzip ? gzipEtag : etag;
  if (etag && (headers['if-none-match'] ?? '').split(/\s*,\s*/).includes(tag)) return new Reply('', 304, { ...page.headers, etag: tag });
  if (gzip) return new Reply(page.gzip, 200, { ...page.headers, etag: gzipEtag, 'content-encoding': 'gzip' });
  return new Reply(page.html, 200, page.headers);
}
