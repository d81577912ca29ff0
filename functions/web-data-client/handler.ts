import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Unavailable } from '../../shared/core/errors.js';
import { Reply, type Handler } from '../../shared/routes/route.js';
import type route from './route.js';

// Built by scripts/bundle-client.mjs into dist/client/; this file runs from dist/ (deployed,
// npm start) or from the source tree (tests), two folders below either.
const DIRS = ['../../client', '../../dist/client'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));

async function load(dirs: readonly string[]): Promise<Buffer> {
  for (const dir of dirs) {
    try {
      return await readFile(path.join(dir, 'data_client.js'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Unavailable('the data client is not built on this server (npm run build makes it)');
}

/** Serves the data client from the first of `dirs` that holds it, read once; a test gives the folder it built it into. */
export function serveClient(dirs: readonly string[] = DIRS): Handler<typeof route> {
  let bundle: Buffer | undefined;
  return async () => {
    bundle ??= await load(dirs);
    return new Reply(bundle.toString('utf8'), 200, {
      'content-type': 'application/javascript; charset=utf-8',
      'content-disposition': 'attachment; filename="data_client.js"',
    });
  };
}

export const handle = serveClient();
