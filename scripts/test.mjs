// `npm test`: install what is missing, check generated files and types, build, start the
// real servers the tests need (FerretDB for MongoDB, Kafka), run every test, always stop them.
// MLP_TEST_INFRA=none skips the real servers (quick local runs; their suites then skip).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, build, ensureBubblewrap, ensureDebianPackages, ensureNodeModules, ensureTapBuilt, run } from './lib/setup.mjs';

const started = Date.now();
const step = (what) => process.stderr.write(`\nnpm test: ${what} (${Math.round((Date.now() - started) / 1000)}s)\n`);
let infra;
let exitCode = 1;

async function main() {
  ensureNodeModules();
  ensureTapBuilt();
  ensureBubblewrap({ required: true }); // jobs run sandboxed in the tests too (test/security/sandbox.test.ts)
  ensureDebianPackages(['litmus', 'cadaver', 'rclone']); // the WebDAV clients of test/webdav/ (they also ask, idempotently)
  // davfs2 mounts over FUSE (test/webdav/davfs2.test.ts): only where /dev/fuse is. Not to be had,
  // it is said here and that test says skipped, naming the reason; the rest of the run goes on.
  if (existsSync('/dev/fuse')) {
    try {
      ensureDebianPackages(['davfs2']);
    } catch (err) {
      process.stderr.write(`npm test: davfs2 could not be installed (${err.message}); test/webdav/davfs2.test.ts will be skipped\n`);
    }
  }
  ensureDebianPackages(['python3-venv']); // the runtimes' Python environments are venvs of the system's Python
  step('checking generated files');
  run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/gen/main.ts', '--check']);
  step('checking format and lint (biome ci; npm run format fixes the format)');
  run(path.join(ROOT, 'node_modules/.bin/biome'), ['ci', '--colors=off', '.']);
  step('type-checking (tsc --noEmit)');
  run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', 'tsconfig.json']);
  step('building dist/');
  build();
  // The Python examples' jobs would otherwise each wait minutes for their runtime's first build.
  step('preparing the Python runtimes (first run only: several minutes, ~7 GB; cached in ~/.cache/mlp-runtimes/)');
  run(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'scripts/runtimes.ts']);
  const env = { ...process.env };
  if (process.env.MLP_TEST_INFRA !== 'none') {
    step('starting MongoDB-compatible server and Kafka');
    const { infraUp, ferretdbBinary } = await import('./infra/up.mjs');
    infra = await infraUp();
    env.MLP_TEST_FERRETDB_BIN = ferretdbBinary();
    env.MLP_TEST_MONGO_URL = infra.env.MLP_MONGO_URL;
    env.MLP_TEST_KAFKA_BROKERS = infra.env.MLP_KAFKA_BROKERS;
    process.stderr.write(`  MLP_TEST_MONGO_URL=${env.MLP_TEST_MONGO_URL}\n  MLP_TEST_KAFKA_BROKERS=${env.MLP_TEST_KAFKA_BROKERS}\n`);
    // A real kube-apiserver on kine for test/conformance/kube-apiserver.test.ts (it starts its own);
    // built from the Go module proxy on the first run only (~10 min), then cached.
    const { ensureKubeApiserver, kubeIsBuilt } = await import('./infra/kube.mjs');
    if (!kubeIsBuilt()) step('building kube-apiserver and kine (first run only; cached in ~/.cache/mlp-infra/)');
    await ensureKubeApiserver();
    env.MLP_TEST_KUBE = '1';
  }
  step('running tests');
  exitCode = await new Promise((resolve, reject) => {
    const tap = spawn(process.execPath, [path.join(ROOT, 'node_modules/tap/dist/esm/run.mjs'), ...process.argv.slice(2)], { cwd: ROOT, stdio: 'inherit', env });
    tap.on('error', reject);
    tap.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function stopInfra() {
  if (!infra) return;
  step('stopping test servers');
  const current = infra;
  infra = undefined;
  await current.stop();
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    stopInfra().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (err) {
  process.stderr.write(`npm test: ${err.message}\n`);
  exitCode = err.exitCode ?? 1;
} finally {
  await stopInfra();
}
step(`done, exit ${exitCode}`);
process.exit(exitCode);
