#!/usr/bin/env node
// The `mlp` command-line client (docs/api.md#data-client). Its TypeScript source is bin/src/; `npm start`,
// `npm test` and `npm run build` compile it to dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin/src/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('mlp: the client is not built yet; run `npm run build` in the MLP checkout\n');
  process.exit(2);
}
await import(entry.href);
