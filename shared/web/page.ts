import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Unavailable } from '../core/errors.js';
import { Reply } from '../routes/route.js';

// The browser UI, one page built by scripts/bundle-ui.mjs into dist/client/web/ (which every
// function image holds). This module runs from dist/ or from the source tree, two folders below
// either. web-index and web-pages serve it at the UI's paths.
const DIRS = ['../../client/web', '../../dist/client/web'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));

interface Page {
  html: string;
  /** Compressed once at load: the page is ~85 KiB, ~35 KiB gzipped. */
  gzip: Buffer;
  headers: Record<string, string>;
}

async function load(dirs: readonly string[]): Promise<Page> {
  for (const dir of dirs) {
    try {
      const [html, meta] = await Promise.all([readFile(path.join(dir, 'index.html'), 'utf8'), readFile(path.join(dir, 'page.json'), 'utf8')]);
      const headers = { ...(JSON.parse(meta) as { headers: Record<string, string> }).headers, vary: 'accept-encoding' };
      return { html, gzip: gzipSync(html, { level: 9 }), headers };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Unavailable('the browser UI is not built on this server (npm run build makes it)');
}

export type PageReply = (headers: Record<string, string | undefined>) => Promise<Reply>;

/**
 * Serves the page built into the first of `dirs` that holds it (by default the built page beside
 * this module), loaded once: a test gives the folder it built the page into.
 */
export function pageReplier(dirs: readonly string[] = DIRS): PageReply {
  let page: Page | undefined;
  return async (headers) => {
    page ??= await load(dirs);
    return reply(page, headers);
  };
}

/** The built page, shared by the functions that serve it. */
export const pageReply: PageReply = pageReplier();

/** The page, or 304 when the browser has it; gzipped for browsers that accept it (its own ETag then). */
function reply(page: Page, headers: Record<string, string | undefined>): Reply {
  const etag = page.headers.etag ?? '';
  const gzipEtag = etag.replace(/"$/, '-gz"');
  const gzip = /\bgzip\b/.test(headers['accept-encoding'] ?? '');
  const tag = gzip ? gzipEtag : etag;
  if (etag && (headers['if-none-match'] ?? '').split(/\s*,\s*/).includes(tag)) return new Reply('', 304, { ...page.headers, etag: tag });
  if (gzip) return new Reply(page.gzip, 200, { ...page.headers, etag: gzipEtag, 'content-encoding': 'gzip' });
  return new Reply(page.html, 200, page.headers);
}
