import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Unavailable } from '../../shared/errors.js';
import { Reply, type Handler } from '../../shared/route.js';
import type route from './route.js';

// The browser UI, one page built by scripts/bundle-ui.mjs into dist/client/web/ (which every
// function image holds). This file runs from dist/ or from the source tree, two folders below
// either. functions/web-index serves the same page at / with the same code:
// each function is its own image, so they share no module but the built page.
const DIRS = ['../../client/web/', '../../dist/client/web/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
let page: { html: string; headers: Record<string, string> } | undefined;

async function load(): Promise<{ html: string; headers: Record<string, string> }> {
  for (const dir of DIRS) {
    try {
      const [html, meta] = await Promise.all([readFile(`${dir}index.html`, 'utf8'), readFile(`${dir}page.json`, 'utf8')]);
      return { html, headers: (JSON.parse(meta) as { headers: Record<string, string> }).headers };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Unavailable('the browser UI is not built on this server (npm run build makes it)');
}

export const handle: Handler<typeof route> = async ({ headers }) => {
  page ??= await load();
  if (headers['if-none-match'] === page.headers.etag) return new Reply('', 304, page.headers);
  return new Reply(page.html, 200, page.headers);
};
