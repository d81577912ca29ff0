import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Unavailable } from '../../shared/errors.js';
import { Reply, type Handler } from '../../shared/route.js';
import type route from './route.js';

// Built by scripts/bundle-client.mjs into dist/client/; this file runs from dist/ (deployed,
// npm start) or from the source tree (tests), two folders below either.
const CANDIDATES = ['../../client/data_client.js', '../../dist/client/data_client.js'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
let bundle: Buffer | undefined;

async function load(): Promise<Buffer> {
  for (const file of CANDIDATES) {
    try {
      return await readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  throw new Unavailable('the data client is not built on this server (npm run build makes it)');
}

export const handle: Handler<typeof route> = async () => {
  bundle ??= await load();
  return new Reply(bundle.toString('utf8'), 200, {
    'content-type': 'application/javascript; charset=utf-8',
    'content-disposition': 'attachment; filename="data_client.js"',
  });
};
