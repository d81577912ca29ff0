// Stops what `node scripts/infra/up.mjs` started (listed in .mlp/infra/state.json),
// plus servers of library runs whose owner died without stopping them.
// Idempotent: nothing running is not an error.
import path from 'node:path';
import { DEFAULT_STATE_DIR, isAlive, log, reapOrphans, readJson, stopRecord, writeJson } from './lib.mjs';

const stateFile = path.join(DEFAULT_STATE_DIR, 'state.json');
const record = readJson(stateFile);
let stopped = 0;
if (record && !record.stopped) {
  stopped += await stopRecord(record);
  writeJson(stateFile, { ...record, stopped: new Date().toISOString() });
  // Keep the run's own record in step, so it is not mistaken for a live run later.
  const runState = path.join(DEFAULT_STATE_DIR, 'runs', record.runId, 'state.json');
  const run = readJson(runState);
  if (run) writeJson(runState, { ...run, stopped: new Date().toISOString() });
}
stopped += await reapOrphans(DEFAULT_STATE_DIR);
const left = (record?.processes ?? []).filter((p) => isAlive(p.pid));
if (left.length) {
  log(`still running: ${left.map((p) => `${p.name} pid ${p.pid}`).join(', ')}`);
  process.exit(1);
}
log(stopped ? `stopped ${stopped} server process(es)` : 'nothing was running');
