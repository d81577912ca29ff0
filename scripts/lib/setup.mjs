// Set-up shared by `npm start` and `npm test`: dependency-free, idempotent, quick when done.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function run(cmd, args, opts = {}) {
  const result = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    const err = new Error(`${cmd} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`);
    err.exitCode = result.status ?? 1;
    throw err;
  }
}

/** `npm ci` only when node_modules is missing or package-lock.json changed since the last install. */
export function ensureNodeModules() {
  const lock = path.join(ROOT, 'package-lock.json');
  const stamp = path.join(ROOT, 'node_modules', '.mlp-lock-hash');
  const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return;
  // npm ci empties node_modules first: through a link (a second checkout sharing the first's)
  // it would empty the other checkout's under its running processes. Install there instead.
  const modules = path.join(ROOT, 'node_modules');
  if (existsSync(modules) && lstatSync(modules).isSymbolicLink()) {
    throw new Error(`node_modules is a link to ${realpathSync(modules)}, installed for another package-lock.json: run npm ci where it leads (or remove the link)`);
  }
  process.stderr.write('mlp: installing npm dependencies (npm ci)…\n');
  // onnxruntime-node's install script would fetch CUDA libraries from outside the npm registry
  // (nuget.org); the CPU runtime the model server uses is in the package itself.
  run('npm', ['ci', '--no-audit', '--no-fund'], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
  writeFileSync(stamp, hash);
}

/** Compiles TypeScript to dist/ (incremental, so a rebuild without changes takes a moment), bundles the client and the browser UI. */
export function build() {
  run(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', 'dist/.tsbuildinfo']);
  run(process.execPath, [path.join(ROOT, 'scripts/bundle-client.mjs')]);
  run(process.execPath, [path.join(ROOT, 'scripts/bundle-ui.mjs')]);
}

/**
 * Installs the Debian packages that `dpkg-query` does not report installed; `apt-get update`
 * runs only then. apt's output goes to stderr (under tap, stdout is the TAP stream).
 */
export function ensureDebianPackages(names, log = (msg) => process.stderr.write(`mlp: ${msg}\n`)) {
  const installed = (name) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return r.status === 0 && r.stdout.includes('install ok installed');
  };
  const missing = names.filter((name) => !installed(name));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages: ${missing.join(' ')}; run: sudo apt-get install -y ${missing.join(' ')}`);
  }
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Test files run in parallel and may install at once: apt waits for another's lock instead of failing.
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  for (const args of [
    [...lock, 'update', '-q'],
    [...lock, 'install', '-y', '-q', '--no-install-recommends', ...missing],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env });
    if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
  }
}

/**
 * bubblewrap, the local job sandbox (MLP_JOB_SANDBOX), and socat, a sandboxed job's only way to
 * the API out of its own network namespace: nothing to do when both are on PATH, else the Debian
 * packages. `required` (npm test) throws when they cannot be had; otherwise (npm start) it says so
 * and goes on: the platform then refuses jobs, loudly, unless the operator sets MLP_JOB_SANDBOX=off.
 */
export function ensureBubblewrap({ required }) {
  if (process.env.MLP_JOB_SANDBOX === 'off' && !required) return;
  if (spawnSync('sh', ['-c', 'command -v bwrap && command -v socat'], { stdio: 'ignore' }).status === 0) return;
  try {
    ensureDebianPackages(['bubblewrap', 'socat']);
  } catch (err) {
    if (required) throw err;
    process.stderr.write(`mlp: the job sandbox needs bubblewrap and socat, which could not be installed (${err.message}); jobs will be refused until it is (or MLP_JOB_SANDBOX=off)\n`);
  }
}

/**
 * Debian's chromium for the browser tests (test/browser/, driven by playwright-core): the
 * package when /usr/bin/chromium is missing. No browser download: the machines reach only the
 * package registries. Answers the executable's path.
 */
export function ensureChromium() {
  const executable = '/usr/bin/chromium';
  if (!existsSync(executable)) ensureDebianPackages(['chromium']);
  return executable;
}

/**
 * tap compiles its plugin set into node_modules; .taprc drops the ts-node plugin (tests run
 * through tsx), and tap only honours that after `tap build`. Rebuild when the installed
 * build still loads the plugin (fresh install), otherwise both loaders run and tests slow down.
 */
export function ensureTapBuilt() {
  const built = path.join(ROOT, 'node_modules/@tapjs/test/test-built/dist/esm/index.js');
  if (existsSync(built) && !readFileSync(built, 'utf8').includes('@tapjs/typescript')) return;
  process.stderr.write("mlp: building tap for the project's plugin set (tap build)…\n");
  run(process.execPath, [path.join(ROOT, 'node_modules/tap/dist/esm/run.mjs'), 'build']);
}
