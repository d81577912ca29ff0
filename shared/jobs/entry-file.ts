import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Deps } from '../wiring/deps.js';
import { Invalid } from '../core/errors.js';
import { entryKind, type Runtime } from '../runtimes/catalog.js';
import { storagePaths } from '../storage/paths.js';
import { checkEntry } from './runtime.js';

// Apart from shared/jobs/submit.ts, so what only checks an entry (a sweep's creation) does not
// import what starts jobs (test/generated/orchestrator-marker.test.ts follows imports).

/** The entry exists in the user's home and its runtime can run it. */
export async function checkEntryFile(deps: Deps, user: string, runtime: Runtime, entry: string): Promise<void> {
  checkEntry(entry);
  const file = path.join(storagePaths(deps.config.root).home(user), entry);
  entryKind(runtime, file);
  const s = await stat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return null;
    throw err;
  });
  if (!s?.isFile()) throw new Invalid(`entry ${entry} not found in your home (upload it to /data/${user}/.home/${entry})`);
}
