import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';

// The bundles npm run build writes into dist/client/, built instead into a temporary folder of
// the test's own (removed when `t` ends): tests running meanwhile may be serving dist/client/.
const SCRIPTS = path.resolve(import.meta.dirname, '../../scripts');

function buildInto(t: Test, script: string, args: string[] = []): string {
  const out = mkdtempSync(path.join(tmpdir(), 'mlp-bundle-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  execFileSync(process.execPath, [path.join(SCRIPTS, script), ...args, '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  return out;
}

/** The browser UI's page (scripts/bundle-ui.mjs, without its type-check): the folder holding index.html and page.json. */
export const buildPage = (t: Test): string => path.join(buildInto(t, 'bundle-ui.mjs', ['--no-check']), 'web');

/** The `mlp` client (scripts/bundle-client.mjs): the folder holding data_client.js. */
export const buildClient = (t: Test): string => buildInto(t, 'bundle-client.mjs');
