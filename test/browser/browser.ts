import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { Test } from 'tap';

export const ARTIFACTS = path.resolve(import.meta.dirname, '../artifacts');

/**
 * Debian's chromium driven by playwright-core (docs/infra.md "Browser"): installed by the
 * project's set-up when missing, never downloaded. Closed when the test ends.
 */
export async function launch(t: Test): Promise<Browser> {
  const setup = (await import(new URL('../../scripts/lib/setup.mjs', import.meta.url).href)) as { ensureChromium(): string };
  const executablePath = setup.ensureChromium();
  const browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // playwright gives every launch a fresh profile of its own (it refuses --user-data-dir here).
  });
  t.teardown(() => browser.close());
  mkdirSync(ARTIFACTS, { recursive: true });
  return browser;
}
