// Bundles the `mlp` client (bin/src/) into one file, dist/client/data_client.js, which the
// platform serves at /data_client.js (functions/web-data-client) and which runs with plain `node`.
// `--out DIR` writes into DIR instead of dist/client/ (tests build into a folder of their own).
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outAt = process.argv.indexOf('--out');
if (outAt !== -1 && !process.argv[outAt + 1]) throw new Error('bundle-client: --out needs a folder');
const OUT = outAt === -1 ? path.join(ROOT, 'dist/client') : path.resolve(process.argv[outAt + 1]);
mkdirSync(OUT, { recursive: true });

await build({
  entryPoints: [path.join(ROOT, 'bin/src/main.ts')],
  outfile: path.join(OUT, 'data_client.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});

// CommonJS, as a downloaded data_client.js is outside any package; inside this checkout
// (type: module) the folder says so itself.
writeFileSync(path.join(OUT, 'package.json'), '{ "type": "commonjs" }\n');
