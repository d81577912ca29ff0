// Bundles the `mlp` client (bin/src/) into one file, dist/client/data_client.js, which the
// platform serves at /data_client.js (docs/api.md#browser-ui) and which runs with plain `node`.
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

await build({
  entryPoints: [path.join(ROOT, 'bin/src/main.ts')],
  outfile: path.join(ROOT, 'dist/client/data_client.js'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});

// CommonJS, as a downloaded data_client.js is outside any package; inside this checkout
// (type: module) the folder says so itself.
writeFileSync(path.join(ROOT, 'dist/client/package.json'), '{ "type": "commonjs" }\n');
