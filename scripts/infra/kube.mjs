// A real Kubernetes API server for MLP's tests: kube-apiserver (built from the Go
// module proxy, see kube/apiserver/go.mod) backed by kine on SQLite (kube/kine/go.mod),
// on free loopback ports, with serving certs made at start, token authentication
// (an admin token and a restricted one) and RBAC authorization. This is controller-runtime's
// envtest approach. With `controllers: true` it also runs kube-controller-manager with the
// deployment, replicaset and garbage-collector controllers (so Deployments make pods and
// deletions cascade). No kubelet and no scheduler ever run: pods stay Pending unless a test
// plays the kubelet (scripts/infra/kubelet-standin.ts). How it is built: scripts/infra/README.md.
//
//   import { startKube } from './scripts/infra/kube.mjs';
//   const kube = await startKube();   // { url, token, restrictedToken, caFile, kubeconfig, env, stop() }
//   ...; await kube.stop();
//
// The first call builds the three binaries into ~/.cache/mlp-infra/kube-<version>/
// ($MLP_INFRA_CACHE overrides the root); that takes many minutes, later calls reuse them.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir, ensureKubeApiserver } from './kube-build.mjs';
import { DEFAULT_STATE_DIR, freePorts, guardRun, isAlive, log as defaultLog, pruneRuns, newRun, reapOrphans, sleep, tail } from './lib.mjs';

export { ensureKubeApiserver, kubeIsBuilt } from './kube-build.mjs';

// ---------------------------------------------------------------- certificates

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
}

// A throwaway CA and a serving cert for 127.0.0.1/localhost signed by it (ECDSA P-256: fast).
function makeCerts(dir) {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=mlp-test-kube-ca'], dir);
  openssl(['req', ...ec, '-keyout', 'serving.key', '-out', 'serving.csr', '-subj', '/CN=kube-apiserver'], dir);
  fs.writeFileSync(path.join(dir, 'serving.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default\n' + 'extendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  openssl(['x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'serving.crt', '-days', '2', '-extfile', 'serving.ext'], dir);
  // Service-account token signing keys.
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  fs.writeFileSync(path.join(dir, 'sa.key'), privateKey, { mode: 0o600 });
  fs.writeFileSync(path.join(dir, 'sa.pub'), publicKey);
  return { caFile: path.join(dir, 'ca.crt'), certFile: path.join(dir, 'serving.crt'), keyFile: path.join(dir, 'serving.key') };
}

// ---------------------------------------------------------------------- start

function get(url, { token, ca }) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** The user names behind the two tokens (for RBAC bindings in tests). */
export const KUBE_USERS = { admin: 'mlp-admin', restricted: 'mlp-restricted' };

/**
 * Start kine (SQLite in a temp dir) and kube-apiserver against it. Builds first if needed.
 * @param {object} [opts]
 * @param {string}  [opts.cacheDir]   built binaries ($MLP_INFRA_CACHE or ~/.cache/mlp-infra)
 * @param {string}  [opts.stateDir]   logs and state records (<repo>/.mlp/infra/kube)
 * @param {number}  [opts.timeoutMs=120000] limit for /readyz
 * @param {boolean} [opts.detached=false] leave the servers running after this process exits
 * @param {boolean} [opts.controllers=false] also run kube-controller-manager (deployment,
 *   replicaset and garbage-collector controllers) once the API server is ready
 * @param {(msg: string) => void} [opts.log]
 * @returns {Promise<{url: string, token: string, restrictedToken: string, caFile: string,
 *   kubeconfig: string, env: Record<string, string>, runDir: string, record: object, stop: () => Promise<void>}>}
 */
export async function startKube(opts = {}) {
  const { cacheDir = defaultCacheDir(), stateDir = path.join(DEFAULT_STATE_DIR, 'kube'), timeoutMs = 120_000, detached = false, controllers = false, log = defaultLog } = opts;
  const bins = await ensureKubeApiserver({ cacheDir, log });
  await reapOrphans(stateDir);
  pruneRuns(stateDir);

  const { dataRoot, runDir, record, save, children, startServer } = newRun({ stateDir, detached, dataPrefix: 'mlp-kube-' });

  const { stop, release } = guardRun(record, save);

  try {
    const [kinePort, apiPort] = await freePorts(2);
    const certDir = path.join(dataRoot, 'pki');
    fs.mkdirSync(certDir);
    const { caFile: tmpCa, certFile, keyFile } = makeCerts(certDir);
    // The CA is also copied next to the logs, so a detached run's kubeconfig keeps working.
    const caFile = path.join(runDir, 'ca.crt');
    fs.copyFileSync(tmpCa, caFile);

    const token = crypto.randomBytes(24).toString('hex');
    const restrictedToken = crypto.randomBytes(24).toString('hex');
    const tokenFile = path.join(certDir, 'tokens.csv');
    // token,user,uid,"groups"
    fs.writeFileSync(tokenFile, `${token},${KUBE_USERS.admin},uid-admin,"system:masters"\n` + `${restrictedToken},${KUBE_USERS.restricted},uid-restricted\n`, { mode: 0o600 });

    const sqliteDir = path.join(dataRoot, 'kine');
    fs.mkdirSync(sqliteDir);
    const kine = startServer('kine', bins.kine, [
      // kine's own default parameters for SQLite, with the database in the temp dir.
      `--endpoint=sqlite://${path.join(sqliteDir, 'state.db')}?_journal_mode=WAL&_busy_timeout=30000&_synchronous=NORMAL&_txlock=immediate&_stmt_cache_size=20&cache=shared`,
      `--listen-address=127.0.0.1:${kinePort}`,
      '--metrics-bind-address=0', // no metrics endpoint (its default is :8080 on every address)
    ]);
    // kube-apiserver retries its storage itself, but fail fast if kine died.
    await sleep(300);
    if (!isAlive(kine.proc.pid)) throw new Error(`kine exited during start\n${tail(kine.logFile)}`);

    const api = startServer('kube-apiserver', bins.apiserver, [
      `--etcd-servers=http://127.0.0.1:${kinePort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--tls-cert-file=${certFile}`,
      `--tls-private-key-file=${keyFile}`,
      `--client-ca-file=${tmpCa}`,
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      '--anonymous-auth=false',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${path.join(certDir, 'sa.pub')}`,
      `--service-account-signing-key-file=${path.join(certDir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/24', // an allocation range in storage only: nothing routes it
      // No controller-manager creates the "default" ServiceAccount in new namespaces, so the
      // ServiceAccount admission plugin would refuse every pod (envtest disables it too).
      '--disable-admission-plugins=ServiceAccount',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--v=1',
    ]);

    const url = `https://127.0.0.1:${apiPort}`;
    const ca = fs.readFileSync(caFile);
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      if (!isAlive(kine.proc.pid)) throw new Error(`kine exited\n${tail(kine.logFile)}`);
      if (!isAlive(api.proc.pid)) throw new Error(`kube-apiserver exited during start\n${tail(api.logFile)}`);
      try {
        const r = await get(`${url}/readyz`, { token, ca });
        if (r.status === 200) break;
        last = `${r.status} ${r.body.slice(-500)}`;
      } catch (err) {
        last = err.message;
      }
      if (Date.now() > deadline) {
        throw new Error(`kube-apiserver at ${url} not ready in ${timeoutMs} ms (last: ${last})\n${tail(api.logFile)}`);
      }
      await sleep(250);
    }

    const kubeconfig = path.join(runDir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      `${[
        'apiVersion: v1',
        'kind: Config',
        'current-context: mlp-test',
        'clusters:',
        '- name: mlp-test',
        '  cluster:',
        `    server: ${url}`,
        `    certificate-authority: ${caFile}`,
        'users:',
        `- name: ${KUBE_USERS.admin}`,
        '  user:',
        `    token: ${token}`,
        `- name: ${KUBE_USERS.restricted}`,
        '  user:',
        `    token: ${restrictedToken}`,
        'contexts:',
        '- name: mlp-test',
        '  context:',
        '    cluster: mlp-test',
        `    user: ${KUBE_USERS.admin}`,
        '- name: mlp-test-restricted',
        '  context:',
        '    cluster: mlp-test',
        `    user: ${KUBE_USERS.restricted}`,
      ].join('\n')}\n`,
      { mode: 0o600 },
    );
    if (controllers) {
      // Started last, so stop() (last started first) stops it before the API server it talks to.
      const kcm = startServer('kube-controller-manager', bins.controllerManager, [
        `--kubeconfig=${kubeconfig}`, // the admin context
        // Only what Deployments and cascading deletion need. No serviceaccount/token controllers:
        // the ServiceAccount admission plugin is off (see above), so pods need no "default" SA.
        '--controllers=deployment,replicaset,garbagecollector',
        '--leader-elect=false',
        '--use-service-account-credentials=false',
        '--secure-port=0', // no health/metrics endpoint (and so no delegated authn/authz lookups)
        '--v=1',
      ]);
      // It has no endpoint to poll; fail fast if it dies on a bad flag or config.
      await sleep(500);
      if (!isAlive(kcm.proc.pid)) throw new Error(`kube-controller-manager exited during start\n${tail(kcm.logFile)}`);
    }
    record.env = { KUBECONFIG: kubeconfig, MLP_KUBE_URL: url, MLP_KUBE_TOKEN: token, MLP_KUBE_CA_FILE: caFile };
    save();
    if (detached) {
      release();
      for (const c of children) c.unref();
    }
    return { url, token, restrictedToken, caFile, kubeconfig, env: { ...record.env }, runDir, record, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// CLI: `node scripts/infra/kube.mjs build` builds (or confirms the cache) and prints the time.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t0 = Date.now();
  const what = process.argv[2] ?? 'build';
  const main =
    what === 'build'
      ? ensureKubeApiserver().then((b) => defaultLog(`kube binaries ready in ${b.dir} (${((Date.now() - t0) / 1000).toFixed(0)} s)`))
      : Promise.reject(new Error(`unknown command ${what}; use: build`));
  main.then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`infra: ${err.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
