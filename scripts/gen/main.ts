import { mkdir, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertNoDuplicates } from '../../shared/http/router.js';
import { loadFunctions } from '../../shared/routes/registry.js';
import { renderConfiguration } from './configuration.js';
import { renderK8s } from './k8s.js';
import { renderKnative } from './knative.js';
import { renderNginx } from './nginx.js';
import { renderOpenApi } from './openapi.js';
import { renderStack } from './stack.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Folders whose every file the generator owns: a file there it did not write is stale.
const OWNED_DIRS = ['k8s', 'knative', 'nginx'];

/** `npm run gen` writes stack.yml, k8s/, knative/, nginx/ and openapi.json from functions/*\/route.ts, docs/configuration.md from shared/config/settings.ts and shared/config/load.ts; `--check` only compares. */
async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const fns = await loadFunctions();
  assertNoDuplicates(fns);
  const routes = fns.map((f) => f.route);
  const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const nginx = renderNginx(routes);
  const files: Record<string, string> = {
    'stack.yml': renderStack(routes),
    ...renderKnative(routes),
    ...nginx,
    ...renderK8s(routes, nginx),
    ...renderOpenApi(fns, version),
    ...renderConfiguration(path.join(ROOT, 'shared/config/load.ts')),
  };

  const differing: string[] = [];
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(ROOT, rel);
    const current = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (current === content) continue;
    differing.push(rel);
    if (!check) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
    }
  }
  for (const dir of OWNED_DIRS) {
    // Recursive: k8s/ has a subfolder (examples/).
    const present = await readdir(path.join(ROOT, dir), { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const entry of present) {
      if (!entry.isFile()) continue;
      const rel = path.relative(ROOT, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      if (rel in files) continue;
      differing.push(`${rel} (stale)`);
      if (!check) await unlink(path.join(ROOT, rel));
    }
  }
  if (check && differing.length > 0) {
    process.stderr.write(`gen:check: generated files are out of date (run npm run gen):\n  ${differing.join('\n  ')}\n`);
    process.exit(1);
  }
  process.stdout.write(check ? `gen:check: ${Object.keys(files).length} generated files are current\n` : `gen: ${differing.length} of ${Object.keys(files).length} files written\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`gen: ${(err as Error).message}\n`);
  process.exit(1);
});
