import type { Handler } from '../../shared/route.js';
import { pageReply } from '../../shared/web/page.js';
import type route from './route.js';

/** The browser UI's one page (shared/web/page.ts). */
export const handle: Handler<typeof route> = async ({ headers }) => pageReply(headers);
