import type { Handler } from '../../shared/routes/route.js';
import { pageReply, type PageReply } from '../../shared/web/page.js';
import type route from './route.js';

/** Serves the browser UI's one page (shared/web/page.ts); a test passes the page it built. */
export const servePage =
  (page: PageReply = pageReply): Handler<typeof route> =>
  async ({ headers }) =>
    page(headers);

export const handle = servePage();
