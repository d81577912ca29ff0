// `npm run cluster:local`: the platform in its cluster shape on one machine. Every function runs
// as its own template process (as OpenFaaS or Knative would run its pod) behind the generated
// Nginx gateway, sharing a MongoDB-wire server (FerretDB), Kafka, the MLP_ROOT folder (standing
// in for the NFS claim) and a real Kubernetes API server with kube-controller-manager. Jobs and
// apps go through MLP_ORCHESTRATOR=kubernetes; the only stand-in is the test kubelet
// (scripts/infra/kubelet-standin.ts), which runs their pods as local sandboxed processes.
//
// It takes the configuration `npm start` takes (MLP_PORT, MLP_APP_PORT, MLP_APP_URL, MLP_ROOT, MLP_TENANT_*,
// timeouts, MLP_SECRET/MLP_SERVICE_TOKEN …); MLP_MONGO_URL / MLP_KAFKA_BROKERS, when set, name
// servers to use instead of starting its own. It prints the gateway URL and stops everything it
// started on Ctrl-C, SIGTERM or SIGHUP (also when its process group is signalled).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, build, ensureBubblewrap, ensureNodeModules } from './lib/setup.mjs';

const say = (msg) => process.stderr.write(`cluster:local: ${msg}\n`);
const NAMESPACE = process.env.MLP_KUBE_NAMESPACE || 'mlp';

try {
  ensureNodeModules();
  ensureBubblewrap({ required: true }); // the stand-in kubelet builds each pod's filesystem with it
  build();
} catch (err) {
  say(`set-up failed: ${err.message}`);
  process.exit(err.exitCode ?? 1);
}

// Imported after ensureNodeModules: they need kafkajs, mongodb and @kubernetes/client-node.
const { holdPorts } = await import('./infra/lib.mjs');
const { infraUp } = await import('./infra/up.mjs');
const { startKube } = await import('./infra/kube.mjs');
const { startNginx } = await import('./infra/nginx.mjs');
const { startFunctions } = await import('./cluster/functions.mjs');
const { prepareNamespace } = await import('./cluster/kube-setup.mjs');

const env = process.env;
const root = path.resolve(env.MLP_ROOT || '.mlp');
const port = Number(env.MLP_PORT || 30001);
const appPort = Number(env.MLP_APP_PORT || 30002);
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlp-cluster-'));
fs.mkdirSync(root, { recursive: true, mode: 0o700 });

// Stopped in reverse order of start.
const stops = [];
let stopping;
const stopAll = (why) => {
  stopping ??= (async () => {
    say(`stopping (${why})…`);
    for (const { name, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        say(`stopping ${name} failed: ${err.message}`);
      }
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  })();
  return stopping;
};
/** `npm run runtimes -- --json`: the offered runtimes' environments, built if need be; {runtime: folder}. */
function pythonRuntimes() {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/runtimes.ts'), '--json'], { cwd: ROOT, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) throw new Error(`the Python runtimes could not be prepared (exit ${run.status ?? run.signal}); see above`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}');
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => void stopAll(signal).then(() => process.exit(0)));
}

try {
  // The gateway's ports are held from the start: the fifty-odd function processes, the API
  // server and the pods below each get a free port from the kernel, which could otherwise be one
  // of these, and Nginx would then fail to bind it.
  const held = await holdPorts([port, appPort]);
  stops.push({ name: 'held ports', stop: held.release });
  const servers = {};
  if (!env.MLP_MONGO_URL || !env.MLP_KAFKA_BROKERS) {
    say('starting FerretDB and Kafka…');
    const infra = await infraUp({ mongo: !env.MLP_MONGO_URL, kafka: !env.MLP_KAFKA_BROKERS, log: say });
    stops.push({ name: 'FerretDB and Kafka', stop: infra.stop });
    Object.assign(servers, infra.env);
  }
  // Each runtime image's Python environment (templates/runtime-*/Dockerfile: /opt/mlp/venv, first
  // on PATH): the one the platform builds on this machine, built now if it is not yet.
  say('preparing the Python runtimes (built once, then cached)…');
  const runtimeLayers = Object.entries(pythonRuntimes()).flatMap(([runtime, dir]) => [
    '--image',
    `mlp/runtime-${runtime}=${dir}:/opt/mlp/venv`,
    '--image-env',
    `mlp/runtime-${runtime}=PATH=/opt/mlp/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  ]);
  say('starting the Kubernetes API server and controller-manager…');
  const kube = await startKube({ controllers: true, log: say });
  stops.push({ name: 'kube-apiserver', stop: kube.stop });
  const access = await prepareNamespace({ kube, namespace: NAMESPACE, dir: runDir, endpointMode: 'pod' });

  say('starting the test kubelet stand-in…');
  const kubelet = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'scripts/infra/kubelet-standin.ts'),
      '--kubeconfig',
      kube.kubeconfig,
      '--claim',
      `mlp-nfs=${root}`,
      '--image',
      `mlp/=${ROOT}:/opt/mlp`,
      ...runtimeLayers,
      '--namespace',
      NAMESPACE,
      '--state-dir',
      path.join(runDir, 'kubelet'),
      // The stand-in's crash-loop back-off (the kubelet's 10 s by default): tests of repeated crashes shorten it.
      ...(env.MLP_STANDIN_BACKOFF_MS ? ['--backoff-ms', env.MLP_STANDIN_BACKOFF_MS] : []),
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const kubeletExited = new Promise((resolve) => kubelet.once('exit', resolve));
  stops.push({
    name: 'kubelet stand-in',
    stop: async () => {
      if (kubelet.exitCode === null) {
        kubelet.kill('SIGTERM');
        await kubeletExited;
      }
    },
  });

  const gatewayUrl = env.MLP_PUBLIC_URL || `http://127.0.0.1:${port}`;
  // What Apps tell clients to call (their endpoint): the Nginx app gateway started below.
  const appGatewayUrl = env.MLP_APP_URL || `http://127.0.0.1:${appPort}`;
  const shared = {
    ...servers,
    MLP_ROOT: root,
    MLP_ORCHESTRATOR: 'kubernetes',
    MLP_KUBE_NAMESPACE: NAMESPACE,
    // Pods of the stand-in run on this machine's network: the gateway reaches an app at its pod's address.
    MLP_KUBE_ENDPOINT: 'pod',
    MLP_PUBLIC_URL: gatewayUrl,
    MLP_APP_URL: appGatewayUrl,
    MLP_LISTEN_HOST: '127.0.0.1',
  };
  const fns = await startFunctions({ env: { ...env, ...shared }, access, logDir: path.join(runDir, 'functions'), secretsDir: path.join(runDir, 'secrets'), log: say });
  stops.push({ name: 'functions', stop: fns.stop });

  await held.release();
  const gw = await startNginx({ upstream: fns.addresses, port, appGateway: true, appPort });
  stops.push({ name: 'nginx', stop: gw.stop });
  process.stdout.write(
    `\nMLP (cluster shape) is running\n  gateway:     ${gw.url}/\n  app gateway: ${gw.appUrl}/\n  data:        ${root}\n` +
      `  functions:   ${Object.keys(fns.addresses).length} processes (logs in ${path.join(runDir, 'functions')})\n` +
      `  kubernetes:  ${kube.url} (KUBECONFIG=${kube.kubeconfig}), namespace ${NAMESPACE}\nPress Ctrl-C to stop.\n`,
  );
  kubelet.once('exit', (code, signal) => {
    if (!stopping) {
      say(`the kubelet stand-in ended (${signal ?? code})`);
      void stopAll('kubelet ended').then(() => process.exit(1));
    }
  });
} catch (err) {
  say(`could not start: ${err.stack ?? err.message}`);
  await stopAll('start failed');
  process.exit(1);
}
