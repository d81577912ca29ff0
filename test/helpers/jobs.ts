import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Deps } from '../../shared/wiring/deps.js';
import { storagePaths } from '../../shared/storage/paths.js';

/** Puts a script in the user's home, where jobs' entries live. */
export function homeScript(deps: Deps, user: string, name: string, text: string): void {
  const home = storagePaths(deps.config.root).home(user);
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, name), text);
}
