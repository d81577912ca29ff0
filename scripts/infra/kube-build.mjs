// The binaries scripts/infra/kube.mjs runs: kube-apiserver, kube-controller-manager and kine, built
// from the Go module proxy (kube/apiserver/go.mod, kube/kine/go.mod) into a cache, rebuilt only when
// those go.mod/go.sum files change.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { log as defaultLog, runQuiet } from './lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const APISERVER_MOD = path.join(HERE, 'kube', 'apiserver');
const KINE_MOD = path.join(HERE, 'kube', 'kine');
// Versions come from the go.mod files that pin them.
export const KUBE_VERSION = fs.readFileSync(path.join(APISERVER_MOD, 'go.mod'), 'utf8').match(/^\s*(?:require\s+)?k8s\.io\/kubernetes (v\S+)/m)[1];
export const KINE_VERSION = fs.readFileSync(path.join(KINE_MOD, 'go.mod'), 'utf8').match(/^\s*(?:require\s+)?github\.com\/k3s-io\/kine (v\S+)/m)[1];

const SOURCES = [APISERVER_MOD, KINE_MOD].flatMap((d) => ['go.mod', 'go.sum'].map((f) => path.join(d, f)));

export function defaultCacheDir() {
  return process.env.MLP_INFRA_CACHE || path.join(os.homedir(), '.cache', 'mlp-infra');
}

/** Where the binaries live: { dir, apiserver, controllerManager, kine }. */
export function kubeBinaries(cacheDir = defaultCacheDir()) {
  const dir = path.join(cacheDir, `kube-${KUBE_VERSION}`);
  return {
    dir,
    apiserver: path.join(dir, 'kube-apiserver'),
    controllerManager: path.join(dir, 'kube-controller-manager'),
    kine: path.join(dir, 'kine'),
  };
}

// A stamp next to the binaries holds a hash of the go.mod/go.sum files they were built
// from (a hash, not mtimes: a fresh clone has new mtimes but the same sources).
function sourcesHash() {
  const h = crypto.createHash('sha256');
  for (const f of SOURCES) if (fs.existsSync(f)) h.update(fs.readFileSync(f));
  return h.digest('hex');
}
const stampFile = (cacheDir) => path.join(kubeBinaries(cacheDir).dir, 'sources');

/** True if all binaries are built from the current sources (then startKube starts in seconds). */
export function kubeIsBuilt(cacheDir = defaultCacheDir()) {
  const { apiserver, controllerManager, kine } = kubeBinaries(cacheDir);
  const stamp = stampFile(cacheDir);
  return [apiserver, controllerManager, kine, stamp].every((f) => fs.existsSync(f)) && fs.readFileSync(stamp, 'utf8').trim() === sourcesHash();
}

/**
 * Build kube-apiserver, kube-controller-manager and kine into the cache if they are not there yet (idempotent;
 * returns at once when cached). The build is kept to one core (GOMAXPROCS=1, -p 1):
 * cold, it takes ~15–25 min and fills ~1 GB of Go module cache.
 */
export async function ensureKubeApiserver({ cacheDir = defaultCacheDir(), log = defaultLog } = {}) {
  const bins = kubeBinaries(cacheDir);
  if (kubeIsBuilt(cacheDir)) return bins;
  if (spawnSync('sh', ['-c', 'command -v go'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('`go` is not on PATH; building kube-apiserver needs Go >= 1.24 (see scripts/infra/README.md).');
  }
  fs.mkdirSync(bins.dir, { recursive: true });
  const hash = sourcesHash();
  const env = { ...process.env, GOMAXPROCS: '1', GOFLAGS: '-buildvcs=false', CGO_ENABLED: '1' };
  const t0 = Date.now();
  for (const [name, mod, pkg, bin] of [
    ['kine', KINE_MOD, 'github.com/k3s-io/kine', bins.kine],
    ['kube-apiserver', APISERVER_MOD, 'k8s.io/kubernetes/cmd/kube-apiserver', bins.apiserver],
    // Same module (and go.sum) as kube-apiserver: its `tool` block names both commands.
    ['kube-controller-manager', APISERVER_MOD, 'k8s.io/kubernetes/cmd/kube-controller-manager', bins.controllerManager],
  ]) {
    log(`building ${name} (first run only; kube-apiserver takes ~15–25 min on one core)…`);
    // Build to a temp name and rename, so an interrupted (or concurrent) build never looks finished.
    const tmp = `${bin}.tmp-${process.pid}`;
    await runQuiet('go', ['build', '-p', '1', '-trimpath', '-o', tmp, pkg], { cwd: mod, env });
    fs.renameSync(tmp, bin);
  }
  fs.writeFileSync(stampFile(cacheDir), `${hash}\n`);
  log(`built kube-apiserver and kube-controller-manager ${KUBE_VERSION} and kine ${KINE_VERSION} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return bins;
}
