// The quick test loops, without the servers, the build or the type-check that `npm test` runs:
//   npm run test:unit      the functions' handler tests and shared/'s unit tests
//   npm run test:contract  the contract tests on the in-process platform with the embedded store
// Tests are chosen by file, leaving out those that need a server, so none of them skips for want
// of one; the MLP_TEST_* variables that point tests at servers are dropped, so the contract tests
// stay on the embedded store even where they are set. Arguments after the loop's name go to tap
// (e.g. --reporter=terse).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { ROOT, ensureBubblewrap, ensureNodeModules, ensureTapBuilt } from './lib/setup.mjs';

/** The test files under `dir` (relative to the checkout) whose path there matches `pattern`. */
const tests = (dir, pattern) =>
  readdirSync(path.join(ROOT, dir), { recursive: true })
    .filter((file) => pattern.test(file))
    .map((file) => path.join(dir, file))
    .sort();
// Contract files that need a server npm test starts (Kafka).
const NEEDS_SERVERS = ['test/contract/metrics-kafka.test.ts', 'test/contract/metrics-volume-kafka.test.ts'];
const LOOPS = {
  unit: () => [...tests('functions', /^[^/]+\/handler\.test\.ts$/), ...tests('shared', /\.test\.ts$/)],
  contract: () => tests('test/contract', /^[^/]+\.test\.ts$/).filter((file) => !NEEDS_SERVERS.includes(file)),
};
const [loop, ...tapArgs] = process.argv.slice(2);
const files = LOOPS[loop]?.();
if (!files) {
  process.stderr.write(`usage: node scripts/test-loop.mjs ${Object.keys(LOOPS).join('|')} [tap options]\n`);
  process.exit(2);
}
ensureNodeModules();
ensureTapBuilt();
ensureBubblewrap({ required: true }); // jobs run sandboxed in the tests too

const env = { ...process.env };
for (const name of ['MLP_TEST_MONGO_URL', 'MLP_TEST_KAFKA_BROKERS', 'MLP_TEST_KUBE', 'MLP_TEST_FERRETDB_BIN']) delete env[name];
// Many of these tests wait on child processes (model servers, jobs): more files than cores keeps the cores busy.
const jobs = `--jobs=${Math.max(4, 2 * availableParallelism())}`;
const started = Date.now();
const tap = spawn(process.execPath, [path.join(ROOT, 'node_modules/tap/dist/esm/run.mjs'), jobs, ...tapArgs, ...files], { cwd: ROOT, stdio: 'inherit', env });
tap.on('error', (err) => {
  process.stderr.write(`test:${loop}: ${err.message}\n`);
  process.exit(1);
});
tap.on('exit', (code, signal) => {
  process.stderr.write(`\ntest:${loop}: exit ${code ?? signal} after ${Math.round((Date.now() - started) / 1000)}s\n`);
  process.exit(code ?? 1);
});
