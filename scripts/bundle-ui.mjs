// Builds the browser UI (ui/, docs/api.md#browser-ui) into one self-contained page, dist/client/web/index.html:
// the TypeScript app bundled and minified by esbuild with uPlot, its CSS and uPlot's inlined, so
// the page asks nothing of any origin but its own (no CDN, no fonts) and loads in one request.
// dist/client/ is in every function image (templates/mlp-node20/Dockerfile), so the page
// functions (functions/web-index, functions/web-pages) find it there as they find the data client.
// Beside it, page.json: the page's headers, with its ETag and the Content-Security-Policy, whose script hash pins the one
// inline script. Prints the page's size, raw and gzipped.
// `--out DIR` writes into DIR/web/ instead of dist/client/web/ (tests build into a folder of their own);
// `--no-check` skips the UI's type-check.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const UI = path.join(ROOT, 'ui');
const outAt = process.argv.indexOf('--out');
if (outAt !== -1 && !process.argv[outAt + 1]) throw new Error('bundle-ui: --out needs a folder');
const OUT = path.join(outAt === -1 ? path.join(ROOT, 'dist/client') : path.resolve(process.argv[outAt + 1]), 'web');

// The UI's own type-check (DOM types; the platform's tsconfig has none): esbuild only strips types.
if (!process.argv.includes('--no-check')) {
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', path.join(UI, 'tsconfig.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
}

const result = await build({
  entryPoints: [path.join(UI, 'src/main.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  platform: 'browser',
  write: false,
  legalComments: 'none',
  logLevel: 'warning',
});
// A script's text may not hold "</script" inside an inline <script> element.
const js = result.outputFiles[0].text.replace(/<\/script/gi, '<\\/script');
const css = [path.join(ROOT, 'node_modules/uplot/dist/uPlot.min.css'), path.join(UI, 'style.css'), path.join(UI, 'sweeps.css')].map((f) => readFileSync(f, 'utf8')).join('\n');
const template = readFileSync(path.join(UI, 'index.html'), 'utf8');
const html = template.replace('/*STYLE*/', () => css).replace('/*SCRIPT*/', () => js);

const sha = (text) => createHash('sha256').update(text, 'utf8').digest('base64');
const csp = [
  "default-src 'none'",
  `script-src 'sha256-${sha(js)}'`,
  // uPlot sizes and places its parts with inline styles.
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  // 'self' covers the metrics WebSocket of the same host and port.
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
mkdirSync(OUT, { recursive: true });
// Written whole, then renamed: a server reading the page meanwhile never sees half of it.
const put = (name, text) => {
  const tmp = path.join(OUT, `.${name}.${process.pid}`);
  writeFileSync(tmp, text);
  renameSync(tmp, path.join(OUT, name));
};
put('index.html', html);
const headers = {
  'content-type': 'text/html; charset=utf-8',
  // One page for every UI path; the browser asks again each time and gets 304 while it is unchanged.
  'cache-control': 'no-cache',
  etag: `"${createHash('sha256').update(html).digest('hex').slice(0, 32)}"`,
  'content-security-policy': csp,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
put('page.json', `${JSON.stringify({ headers }, null, 2)}\n`);

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
process.stdout.write(
  `bundle-ui: ${outAt === -1 ? 'dist/client/web/index.html' : path.join(OUT, 'index.html')} ${kb(Buffer.byteLength(html))} (gzip ${kb(gzipSync(html).length)}; script ${kb(Buffer.byteLength(js))}, css ${kb(Buffer.byteLength(css))})\n`,
);
