import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { NotFound, Unavailable } from '../../shared/core/errors.js';
import { Reply, type Handler } from '../../shared/routes/route.js';
import type route from './route.js';

// Starts Swagger UI on the document this origin serves. No validator badge (it would send the
// document to validator.swagger.io) and no top bar (it would load any URL typed into it).
const INIT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({
    url: '/api/v1/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
});
`;

const TYPES: Record<string, string> = { js: 'application/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
const require = createRequire(import.meta.url);

interface Asset {
  text: string;
  type: string;
  etag: string;
}
const assets = new Map<string, Asset>();

async function load(file: string): Promise<Asset> {
  let text = INIT;
  if (file !== 'init.js') {
    try {
      text = await readFile(require.resolve(`swagger-ui-dist/${file}`), 'utf8');
    } catch (err) {
      throw new Unavailable(`the API reference renderer is not installed on this server (swagger-ui-dist/${file}: ${(err as Error).message})`);
    }
  }
  const type = TYPES[file.split('.').pop() ?? ''];
  if (!type) throw new NotFound(`no asset ${file}`);
  return { text, type, etag: `"${createHash('sha256').update(text).digest('base64url').slice(0, 27)}"` };
}

export const handle: Handler<typeof route> = async ({ params, headers }) => {
  const file = params.file ?? '';
  let asset = assets.get(file);
  if (!asset) assets.set(file, (asset = await load(file)));
  // An hour, then revalidated by ETag: the names carry no version, an upgrade must show within the hour.
  const cache = { 'cache-control': 'public, max-age=3600', etag: asset.etag, 'x-content-type-options': 'nosniff' };
  if (headers['if-none-match'] === asset.etag) return new Reply('', 304, { 'content-type': asset.type, ...cache });
  return new Reply(asset.text, 200, { 'content-type': asset.type, ...cache });
};
