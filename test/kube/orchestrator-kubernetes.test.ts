import * as k8s from '@kubernetes/client-node';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import t from 'tap';
import { watchPass } from '../../shared/apps/watcher.js';
import { launch } from '../../shared/jobs/launch.js';
import { syncWorkloads } from '../../shared/jobs/lifecycle.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { createKubernetesOrchestrator, type KubernetesOrchestratorOptions } from '../../shared/orchestrator/kubernetes.js';
import type { Orchestrator, Workload, WorkloadStatus } from '../../shared/orchestrator/port.js';
import { readyApp } from '../../shared/apps/endpoint.js';
import { checkEpochOf } from '../helpers/users.js';
import { appsCollection } from '../../shared/records/apps.js';
import { saveModel } from '../../templates/runtime-tf/mlp-runtime.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { orchestratorConformance } from '../conformance/orchestrator-suite.js';
import { testDeps } from '../helpers/deps.js';
import { insertJob } from '../helpers/job-record.js';
import { kubeConfig, startTestKube } from '../helpers/kube.js';
import { until as poll } from '../helpers/poll.js';
import { freePort } from '../helpers/process.js';

// The Kubernetes orchestrator adapter against a real kube-apiserver with the deployment,
// replicaset and garbage-collector controllers (scripts/infra/kube.mjs), and the TEST KUBELET
// STAND-IN (scripts/infra/kubelet-standin.ts) running the pods as local processes: the only
// stand-in here, for the kubelet that cannot run on this machine.

const STANDIN = new URL('../../scripts/infra/kubelet-standin.ts', import.meta.url).href;
const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url));

if (!process.env.MLP_TEST_KUBE) {
  t.plan(0, 'MLP_TEST_KUBE not set (npm test and npm run test:kube set it)');
} else {
  const { startKubeletStandin } = (await import(STANDIN)) as typeof import('../../scripts/infra/kubelet-standin.js');
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-kube-root-'));
  const kube = await startTestKube({ controllers: true });
  const namespace = `mlp-orch-${process.pid}`;
  const standinLog: string[] = [];
  const node = await startKubeletStandin({
    kubeconfig: kube.kubeconfig,
    namespaces: [namespace],
    claims: { 'mlp-nfs': root },
    images: [{ prefix: 'mlp/', dir: CHECKOUT, at: '/opt/mlp' }],
    stateDir: path.join(root, '.standin'),
    log: (m) => standinLog.push(m),
    timing: { backoffMs: 100, maxBackoffMs: 400, maxProbePeriodMs: 200, maxGracePeriodMs: 2000 },
  });
  t.teardown(async () => {
    await node.stop();
    await kube.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const kc = kubeConfig(kube, kube.token);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const log = createLogger({ component: 'test', sinks: [memorySink()] });
  const options = (over: Partial<KubernetesOrchestratorOptions> = {}): KubernetesOrchestratorOptions => ({
    kubeConfig: kc,
    namespace,
    jobImages: { tf: 'mlp/runtime-tf:0.1.0', torch: 'mlp/runtime-torch:0.1.0' },
    modelServerImage: 'mlp/model-server-tf:0.1.0',
    claimName: 'mlp-nfs',
    root,
    imageRoot: '/opt/mlp',
    endpointMode: 'pod',
    log,
    graceSeconds: 2,
    ...over,
  });
  const open = (over: Partial<KubernetesOrchestratorOptions> = {}) => {
    const orch = createKubernetesOrchestrator(options(over));
    t.teardown(() => orch.close());
    return orch;
  };
  const until = (orch: Orchestrator, id: string, ok: (s: WorkloadStatus | null) => boolean, what: string) =>
    poll(() => orch.status(id), ok, `${id} ${what}`).catch((err: Error) => {
      throw new Error(`${err.message}\n${standinLog.slice(-10).join('\n')}`);
    });
  const byInstance = (id: string) => `app.kubernetes.io/instance=${id}`;
  /** The pods of a workload once none is left (a ReplicaSet being collected may make one more for a moment), bounded. */
  const podsLeft = async (id: string) => {
    let left = 0;
    for (let i = 0; i < 200; i++) {
      left = (await core.listNamespacedPod({ namespace, labelSelector: byInstance(id) })).items.length;
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return left;
  };
  let n = 0;
  /** A script in the workload's own folder (what its pod mounts). */
  const script = (dir: string, source: string) => {
    const file = path.join(dir, `s${++n}.mjs`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, source);
    return file;
  };
  const server = (dir: string, port: number) =>
    script(dir, `import http from 'node:http'; http.createServer((req, res) => { res.writeHead(req.url === '/health' ? 200 : 404); res.end('ok'); }).listen(${port}, '0.0.0.0');`);
  const appWorkload = (id: string, port: number): Workload => {
    const workdir = path.join(root, 'apps', 'alice', id);
    return {
      id,
      kind: 'app',
      labels: { user: 'alice', name: id },
      command: [process.execPath, server(workdir, port)],
      workdir,
      env: {},
      logFile: path.join(workdir, 'log', 'server.log'),
      resources: { cpu: 1, gpu: 0, ram: 100 },
      health: { port, path: '/health' },
    };
  };

  t.test('MLP_ORCHESTRATOR=kubernetes: the platform builds the adapter from KUBECONFIG and the MLP_KUBE_* settings', async (t) => {
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = kube.kubeconfig;
    t.teardown(() => {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    });
    const deps = await testDeps(t, { MLP_ROOT: root, MLP_ORCHESTRATOR: 'kubernetes', MLP_KUBE_NAMESPACE: namespace, MLP_KUBE_ENDPOINT: 'service' });
    t.equal(deps.orchestrator.kind, 'kubernetes');
    t.same(deps.jobSandbox, { mode: 'on', detail: 'jobs are confined by the kubernetes orchestrator' });
    t.equal(await deps.orchestrator.status('no-such-workload'), null, 'it answers from the API server');
    t.equal(deps.orchestrator.endpoint('abc', 8501), `mlp-app-abc.${namespace}.svc:8501`, 'in the configured namespace');
  });

  t.test('the Orchestrator port contract (pods run by the test kubelet stand-in)', (t) => {
    orchestratorConformance(t, async () => createKubernetesOrchestrator(options()), { root, seenWorkdir: () => '/workspace', sandbox: false });
    t.end();
  });

  t.test('a job pod: image, resources, mounts, env and command as the pod sees them, labels, no privileges, no token', async (t) => {
    // A namespace the stand-in does not run: the pod stays as created.
    const specNs = `${namespace}-spec`;
    await core.createNamespace({ body: { metadata: { name: specNs } } });
    const orch = open({ namespace: specNs });
    const ws = path.join(root, 'jobs', 'alice', 'train');
    const home = path.join(root, 'datasets', 'alice', '.home');
    const datasets = path.join(root, 'datasets', 'alice');
    const runtime = path.join(CHECKOUT, 'templates', 'runtime-tf');
    await orch.start({
      id: 'spec1',
      kind: 'job',
      labels: { user: 'alice', name: 'train' },
      command: [process.execPath, '--import', `file://${CHECKOUT}node_modules/tsx/dist/esm/index.mjs`, path.join(home, 'train.mjs')],
      workdir: ws,
      env: { MLP_WORKSPACE: ws, MLP_HOME: home, MLP_DATASETS: datasets, NODE_PATH: path.join(CHECKOUT, 'node_modules'), MLP_USER: 'alice' },
      logFile: path.join(ws, 'log', 'job.log'),
      resources: { cpu: 1.5, gpu: 2, ram: 512 },
      sandbox: { writable: [ws], readOnly: [home, datasets, runtime], hidden: [root] },
    });
    const pod = await core.readNamespacedPod({ namespace: specNs, name: 'mlp-job-spec1' });
    const c = pod.spec!.containers[0]!;
    t.equal(c.image, 'mlp/runtime-tf:0.1.0');
    const bounds = { cpu: '1500m', memory: '512Mi', 'ephemeral-storage': '10737418240', 'nvidia.com/gpu': '2' };
    t.same(c.resources, { requests: bounds, limits: bounds }, 'requests = limits, disk (the 10 GiB default) and gpu included');
    t.same(pod.metadata!.labels, {
      'app.kubernetes.io/managed-by': 'mlp',
      'app.kubernetes.io/part-of': 'mlp',
      'app.kubernetes.io/name': 'mlp-job',
      'app.kubernetes.io/instance': 'spec1',
      'mlp/user': 'alice',
      'mlp/job': 'train',
    });
    t.equal(pod.spec!.restartPolicy, 'Never');
    t.equal(pod.spec!.automountServiceAccountToken, false, 'no service account token');
    t.equal(pod.spec!.enableServiceLinks, false);
    t.match(pod.spec!.securityContext, { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    t.match(c.securityContext, { allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    t.same(pod.spec!.volumes, [
      { name: 'nfs', persistentVolumeClaim: { claimName: 'mlp-nfs' } },
      { name: 'scratch', emptyDir: {} },
    ]);
    t.same(
      c.volumeMounts?.map((m) => [m.mountPath, m.subPath, m.readOnly ?? false]),
      [
        ['/workspace', 'jobs/alice/train', false],
        ['/mlp/datasets/alice/.home', 'datasets/alice/.home', true],
        ['/mlp/datasets/alice', 'datasets/alice', true],
        ['/tmp', undefined, false],
      ],
      'its folder writable; home and datasets read-only; the runtime (outside MLP_ROOT) is in the image; /tmp its scratch',
    );
    t.equal(c.workingDir, '/workspace');
    t.same(
      c.command,
      [
        'sh',
        '-c',
        'f=$1; shift; mkdir -p "${f%/*}"; exec "$@" >>"$f" 2>&1',
        'sh',
        '/workspace/log/job.log',
        'node',
        '--import',
        'file:///opt/mlp/node_modules/tsx/dist/esm/index.mjs',
        '/mlp/datasets/alice/.home/train.mjs',
      ],
      'paths as the pod sees them; output to the job log',
    );
    t.same(Object.fromEntries(c.env!.map((e) => [e.name, e.value])), {
      MLP_WORKSPACE: '/workspace',
      MLP_HOME: '/mlp/datasets/alice/.home',
      MLP_DATASETS: '/mlp/datasets/alice',
      NODE_PATH: '/opt/mlp/node_modules',
      MLP_USER: 'alice',
    });
    t.match(
      await orch.start({
        id: 'spec1',
        kind: 'job',
        labels: { user: 'alice', name: 'train' },
        command: ['x'],
        workdir: ws,
        env: {},
        logFile: path.join(ws, 'log', 'job.log'),
        resources: { cpu: 1, gpu: 0, ram: 1 },
      }),
      { id: 'spec1', phase: 'pending' },
      'starting it again answers its status',
    );
    await orch.forget('spec1');
    t.equal((await core.listNamespacedPod({ namespace: specNs, labelSelector: byInstance('spec1') })).items.length, 0, 'forget removes the pod');
    // A Python job of runtime torch: its runtime's image, `python` from that image's PATH, the helper on PYTHONPATH.
    await orch.start({
      id: 'spec2',
      kind: 'job',
      runtime: 'torch',
      labels: { user: 'alice', name: 'torch' },
      command: ['python', path.join(home, 'train.py')],
      workdir: ws,
      env: { PYTHONPATH: path.join(CHECKOUT, 'templates', 'runtime-py') },
      logFile: path.join(ws, 'log', 'job.log'),
      resources: { cpu: 1, gpu: 0, ram: 512 },
    });
    const torch = (await core.readNamespacedPod({ namespace: specNs, name: 'mlp-job-spec2' })).spec!.containers[0]!;
    t.equal(torch.image, 'mlp/runtime-torch:0.1.0', 'a torch job runs in the torch image');
    t.same(torch.command?.slice(-2), ['python', '/mlp/datasets/alice/.home/train.py']);
    t.same(torch.env, [{ name: 'PYTHONPATH', value: '/opt/mlp/templates/runtime-py' }], 'the helper where the image holds it');
    await orch.forget('spec2');
  });

  t.test("stop and forget remove a job's pod; a finished job keeps its outcome through stop", async (t) => {
    const orch = open();
    const ws = path.join(root, 'jobs', 'alice', 'j-stop');
    const job = (id: string, source: string): Workload => ({
      id,
      kind: 'job',
      labels: { user: 'alice', name: id },
      command: [process.execPath, script(ws, source)],
      workdir: ws,
      env: {},
      logFile: path.join(ws, 'log', `${id}.log`),
      resources: { cpu: 1, gpu: 0, ram: 100 },
    });
    await orch.start(job('k-run', 'setInterval(() => {}, 1000)'));
    await until(orch, 'k-run', (s) => s?.phase === 'running', 'ran');
    await orch.stop('k-run');
    t.match(await orch.status('k-run'), { phase: 'failed', reason: 'stopped' });
    t.match(await open().status('k-run'), { phase: 'failed', reason: 'stopped' }, 'another process (another adapter) sees it stopped: the fact is in the API');
    await orch.forget('k-run');
    t.equal((await core.listNamespacedPod({ namespace, labelSelector: byInstance('k-run') })).items.length, 0, 'no pod left');
    t.equal(await orch.status('k-run'), null);
    await orch.start(job('k-done', 'process.exit(0)'));
    await until(orch, 'k-done', (s) => s?.phase === 'succeeded', 'succeeded');
    await orch.stop('k-done');
    t.match(await orch.status('k-done'), { phase: 'succeeded', exitCode: 0 }, 'stopping an ended job changes nothing');
    await orch.forget('k-done');
    t.equal((await core.listNamespacedPod({ namespace, labelSelector: byInstance('k-done') })).items.length, 0);
  });

  t.test('an app whose pod is killed: the Deployment replaces it, and the app stays ready', async (t) => {
    const orch = open();
    const deps = await testDeps(t, { MLP_ROOT: root }, { orchestrator: orch });
    const port = await freePort();
    const w = appWorkload('appk', port);
    const col = appsCollection(deps.store);
    await col.insert({
      _id: 'alice/appk',
      uid: 'appk',
      name: 'appk',
      user: 'alice',
      tenant: 'default',
      model_name: 'm',
      cpu: 1,
      gpu: 0,
      ram: 100,
      port,
      state: 'ready',
      res: 'held',
      launched: true,
      started_at: new Date(Date.now() - 600_000).toISOString(),
    });
    await orch.start(w);
    await until(orch, 'appk', (s) => s?.ready === true, 'became ready');
    const first = (await core.listNamespacedPod({ namespace, labelSelector: byInstance('appk') })).items[0]!;
    t.ok(
      first.metadata?.ownerReferences?.some((r) => r.kind === 'ReplicaSet'),
      "its pod belongs to the Deployment's ReplicaSet",
    );
    t.equal(orch.endpoint('appk', port), `127.0.0.1:${port}`, "pod mode: the ready pod's address");
    const seen: string[] = [];
    orch.watch((s) => s.id === 'appk' && seen.push(`${s.phase}/${s.ready ?? '-'}`));
    const epoch = checkEpochOf(root, 'alice');
    await core.deleteNamespacedPod({ namespace, name: first.metadata!.name!, gracePeriodSeconds: 0 });
    // The app watcher runs its passes while Kubernetes replaces the pod.
    let replaced: k8s.V1Pod | undefined;
    const states = new Set<string>();
    for (let i = 0; i < 600; i++) {
      await watchPass(deps);
      states.add((await col.get('alice/appk'))?.state ?? 'gone');
      replaced = (await core.listNamespacedPod({ namespace, labelSelector: byInstance('appk') })).items.find(
        (p) => p.metadata?.name !== first.metadata?.name && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      if (replaced && (await orch.status('appk'))?.ready) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    t.same([...states], ['ready'], 'the app stayed ready throughout');
    t.not(checkEpochOf(root, 'alice'), epoch, "a new check epoch: the Nginx app gateway stops sending to the old pod's address");
    t.ok(replaced, `a new pod (${replaced?.metadata?.name}) replaced ${first.metadata?.name} and is ready`);
    await watchPass(deps);
    t.match(await col.get('alice/appk'), { state: 'ready', launched: true }, 'the app is ready, its server never restarted by the watcher');
    t.notOk(
      seen.some((s) => s.startsWith('failed')),
      `never reported failed (${seen.join(', ')})`,
    );
    t.notOk(
      seen.some((s, i) => i > 0 && s === seen[i - 1]),
      'each change reported once',
    );
    const res = await fetch(`http://${orch.endpoint('appk', port)}/health`);
    t.equal(res.status, 200, 'it serves');
    await orch.stop('appk');
    await orch.forget('appk');
    t.equal(await podsLeft('appk'), 0, 'forget leaves no pod');
    await t.rejects(apps.readNamespacedDeployment({ namespace, name: 'mlp-app-appk' }), { code: 404 }, 'nor its Deployment');
    await t.rejects(core.readNamespacedService({ namespace, name: 'mlp-app-appk' }), { code: 404 }, 'nor its Service');
  });

  t.test("an app's server that keeps crashing is failed with the last reason, and the app watcher ends the app in error", async (t) => {
    const orch = open();
    const deps = await testDeps(t, { MLP_ROOT: root }, { orchestrator: orch });
    const port = await freePort();
    const base = appWorkload('appc', port);
    const w = { ...base, command: [process.execPath, script(base.workdir, 'console.log("cannot load the model"); process.exit(4)')] };
    await appsCollection(deps.store).insert({
      _id: 'alice/appc',
      uid: 'appc',
      name: 'appc',
      user: 'alice',
      tenant: 'default',
      model_name: 'm',
      cpu: 1,
      gpu: 0,
      ram: 100,
      port,
      state: 'creating',
      res: 'held',
      launched: true,
      started_at: new Date().toISOString(),
    });
    await orch.start(w);
    const s = await until(orch, 'appc', (st) => st?.phase === 'failed', 'failed');
    t.match(s, { phase: 'failed', exitCode: 4, reason: /exit code 4, restarted \d+ times/, ready: false });
    await watchPass(deps);
    const app = await appsCollection(deps.store).get('alice/appc');
    t.match(app, { state: 'error', msg: /exit code 4.*cannot load the model/ }, 'error at once, with the reason and its last output');
    await watchPass(deps);
    t.equal(await podsLeft('appc'), 0, 'the watcher removed its pods');
  });

  t.test('a create refused midway (the Service) leaves nothing behind', async (t) => {
    // A user whose Role grants the adapter's verbs except creating Services.
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'no-services' },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'deletecollection', 'patch'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch'] },
          { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'delete'] },
          { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'create', 'delete'] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'no-services' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'no-services' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mlp-restricted' }],
      },
    });
    const orch = open({ kubeConfig: kubeConfig(kube, kube.restrictedToken), endpointMode: 'service' });
    const port = await freePort();
    let err: unknown;
    // The authorizer sees a new binding within a moment: until then even the Deployment is refused.
    for (let i = 0; i < 50; i++) {
      err = await orch.start(appWorkload('appr', port)).then(
        () => undefined,
        (e: unknown) => e,
      );
      if (!/deployments/.test(String((err as Error).message))) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    t.equal((err as { code?: number }).code, 403, 'the Service is refused');
    t.match(String((err as Error).message), /services/);
    await t.rejects(apps.readNamespacedDeployment({ namespace, name: 'mlp-app-appr' }), { code: 404 }, 'the Deployment it made is gone');
    t.equal(await podsLeft('appr'), 0, 'and no pod of it is left');
    t.equal(orch.endpoint('appr', port), `mlp-app-appr.${namespace}.svc:${port}`, "service mode: the Service's name");
    // A start that died after its Deployment (no Service): starting again makes the rest.
    const admin = open({ endpointMode: 'service' });
    await admin.start(appWorkload('appr', port));
    await core.deleteNamespacedService({ namespace, name: 'mlp-app-appr' });
    await admin.start(appWorkload('appr', port));
    t.equal((await core.readNamespacedService({ namespace, name: 'mlp-app-appr' })).spec?.ports?.[0]?.port, port, 'starting again made the missing Service');
    await admin.forget('appr');
  });

  t.test('a watcher restarted while a job ran: the new one reports its end, and the store moves exactly once', async (t) => {
    const first = open();
    const deps = await testDeps(t, { MLP_ROOT: root }, { orchestrator: first });
    const col = jobsCollection(deps.store);
    await col.insert({
      _id: 'alice/jw',
      uid: 'jw',
      name: 'jw',
      user: 'alice',
      tenant: 'default',
      runtime: 'tf',
      entry: 'x.mjs',
      gpu: 0,
      cpu: 1,
      ram: 100,
      state: 'creating',
      progress: 0,
      res: 'held',
      launched: true,
    });
    const ws = path.join(root, 'jobs', 'alice', 'jw');
    const go = path.join(ws, 'go');
    const seenFirst: string[] = [];
    first.watch((s) => s.id === 'jw' && seenFirst.push(s.phase));
    // It ends once told to (a file in its folder), so the first watcher can go before it does.
    await first.start({
      id: 'jw',
      kind: 'job',
      labels: { user: 'alice', name: 'jw' },
      command: [process.execPath, script(ws, `import { existsSync } from 'node:fs'; const t = setInterval(() => { if (existsSync('go')) { clearInterval(t); process.exit(0); } }, 50);`)],
      workdir: ws,
      env: {},
      logFile: path.join(ws, 'log', 'job.log'),
      resources: { cpu: 1, gpu: 0, ram: 100 },
    });
    for (let i = 0; i < 600 && !seenFirst.includes('running'); i++) await new Promise((r) => setTimeout(r, 50));
    t.same(await syncWorkloads(deps), ['jw'], 'running: the store moves');
    t.equal((await col.get('alice/jw'))?.state, 'running');
    await first.close(); // the function's process ends
    writeFileSync(go, '');
    await until(first, 'jw', (s) => s?.phase === 'succeeded', 'succeeded');
    // A new process: its watch reports the current state of every pod; each event runs a store-compare pass.
    const changes: string[][] = [];
    for (let round = 0; round < 2; round++) {
      const again = open();
      const emitted: string[] = [];
      const passes: Promise<void>[] = [];
      again.watch((s) => {
        if (s.id !== 'jw') return;
        emitted.push(s.phase);
        passes.push(syncWorkloads({ ...deps, orchestrator: again }).then((c) => void changes.push(c)));
      });
      for (let i = 0; i < 600 && emitted.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      t.same(emitted, ['succeeded'], `watcher ${round + 2} reports the job's current state, once`);
      await Promise.all(passes);
      await again.close();
    }
    t.same(changes, [['jw'], []], 'the store moved once (finished); the next restart changed nothing');
    t.match(await col.get('alice/jw'), { state: 'finished', progress: 100 });
    t.same(
      seenFirst.filter((p) => p !== 'pending'),
      ['running'],
      'the first watcher saw only what happened while it ran',
    );
    await first.forget('jw').catch(() => undefined);
  });

  t.test('a job launched by the jobs manager runs its runtime from the image (/opt/mlp) with its folders mounted, and finishes', async (t) => {
    const orch = open();
    const deps = await testDeps(t, { MLP_ROOT: root }, { orchestrator: orch });
    const home = path.join(root, 'datasets', 'alice', '.home');
    mkdirSync(home, { recursive: true });
    writeFileSync(
      path.join(home, 'train.mjs'),
      `import * as tf from '@tensorflow/tfjs';
      import { writeFileSync } from 'node:fs';
      console.log('tfjs', tf.version.tfjs, 'sum', tf.tensor([1, 2, 3]).sum().dataSync()[0]);
      console.log('paths', process.cwd(), process.env.MLP_WORKSPACE, process.env.MLP_HOME, process.env.MLP_DATASETS);
      writeFileSync('ckpt/out.txt', 'written by the pod');
      try { writeFileSync(process.env.MLP_HOME + '/x', 'x'); console.log('home writable'); } catch (err) { console.log('home', err.code); }`,
    );
    const col = jobsCollection(deps.store);
    const job = await insertJob(deps.store, 'alice', 'e2e', { uid: 'e2e-job', state: 'creating', progress: 0, res: 'held' });
    await launch(job, deps);
    for (let i = 0; i < 600 && !['finished', 'error'].includes((await col.get('alice/e2e'))?.state ?? ''); i++) {
      await syncWorkloads(deps);
      await new Promise((r) => setTimeout(r, 100));
    }
    const ws = path.join(root, 'jobs', 'alice', 'e2e');
    const log = readFileSync(path.join(ws, 'log', 'job.log'), 'utf8');
    t.match(await col.get('alice/e2e'), { state: 'finished', progress: 100 }, log);
    t.match(log, /tfjs \S+ sum 6/, 'the runtime resolved @tensorflow/tfjs from the image');
    t.match(log, 'paths /workspace /workspace /mlp/datasets/alice/.home /mlp/datasets/alice', 'its environment names the paths as the pod sees them');
    t.match(log, 'home EROFS', 'its home is read-only');
    t.equal(readFileSync(path.join(ws, 'ckpt', 'out.txt'), 'utf8'), 'written by the pod', 'its workspace is its job folder');
    await orch.forget('e2e-job');
  });

  t.test('the adapter needs no more than the least-privilege Role of the conventions', async (t) => {
    // ServiceAccount mlp-orchestrator with exactly the Role the deployment files grant, in its own namespace.
    const rbacNs = `${namespace}-rbac`;
    await core.createNamespace({ body: { metadata: { name: rbacNs } } });
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: rbacNs, body: { metadata: { name: 'mlp-orchestrator' } } });
    await rbac.createNamespacedRole({
      namespace: rbacNs,
      body: {
        metadata: { name: 'mlp-orchestrator' },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'deletecollection', 'patch'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch'] },
          { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'create', 'delete'] },
          { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'create', 'delete'] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: rbacNs,
      body: {
        metadata: { name: 'mlp-orchestrator' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'mlp-orchestrator' },
        subjects: [{ kind: 'ServiceAccount', name: 'mlp-orchestrator', namespace: rbacNs }],
      },
    });
    const { status } = await core.createNamespacedServiceAccountToken({ namespace: rbacNs, name: 'mlp-orchestrator', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const orch = open({ kubeConfig: kubeConfig(kube, status!.token), namespace: rbacNs, endpointMode: 'pod', ingressClass: 'nginx' });
    // The authorizer sees a new binding within a moment.
    for (
      let i = 0;
      i < 50 &&
      (await orch.status('probe').then(
        () => false,
        () => true,
      ));
      i++
    )
      await new Promise((r) => setTimeout(r, 200));
    const seen: string[] = [];
    orch.watch((s) => seen.push(`${s.id}:${s.phase}`));
    const ws = path.join(root, 'jobs', 'alice', 'rbac');
    const job: Workload = {
      id: 'rb-job',
      kind: 'job',
      labels: { user: 'alice', name: 'rbac' },
      command: ['sh', '-c', 'exit 0'],
      workdir: ws,
      env: {},
      logFile: path.join(ws, 'log', 'job.log'),
      resources: { cpu: 1, gpu: 0, ram: 100 },
    };
    await orch.start(job);
    await orch.start(job);
    const app = appWorkload('rb-app', await freePort());
    await orch.start(app);
    await orch.start(app);
    t.equal(
      (await kc.makeApiClient(k8s.NetworkingV1Api).readNamespacedIngress({ namespace: rbacNs, name: 'mlp-app-rb-app' })).spec?.ingressClassName,
      'nginx',
      'with an ingress class, the app has an Ingress',
    );
    await orch.stop('rb-app');
    await orch.forget('rb-app');
    await orch.stop('rb-job');
    await orch.forget('rb-job');
    t.equal(await orch.status('rb-app'), null);
    t.equal(await orch.status('rb-job'), null);
    t.ok(
      seen.some((s) => s.startsWith('rb-job:')),
      `its watch works too (${seen.join(', ')})`,
    );
    let left = -1;
    for (let i = 0; i < 200 && left !== 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      left = (await core.listNamespacedPod({ namespace: rbacNs })).items.length;
    }
    t.equal(left, 0, 'no pod left (a ReplicaSet being collected may make one more for a moment)');
    await t.rejects(kc.makeApiClient(k8s.NetworkingV1Api).readNamespacedIngress({ namespace: rbacNs, name: 'mlp-app-rb-app' }), { code: 404 }, 'its Ingress removed');
  });

  // Each format the model server serves: a TensorFlow.js layers model, and an ONNX model
  // (scikit-learn's iris classifier, test/fixtures/onnx) whose runtime loads a native library.
  const formats = [
    {
      label: 'a TensorFlow.js model',
      write: (dir: string) => saveModel(tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [2], kernelInitializer: 'ones', biasInitializer: 'zeros' })] }), dir),
      instances: [[1, 2]],
      answer: { predictions: [[3]] } as unknown,
    },
    {
      label: 'an ONNX model',
      write: async (dir: string) => {
        mkdirSync(dir, { recursive: true });
        copyFileSync(fileURLToPath(new URL('../fixtures/onnx/iris-sklearn.onnx', import.meta.url)), path.join(dir, 'model.onnx'));
      },
      instances: [[5.1, 3.5, 1.4, 0.2]],
      answer: { predictions: [{ label: 0 }] } as unknown,
    },
  ];
  for (const [i, f] of formats.entries()) {
    t.test(`an app created by the app watcher: the model server in a pod (its model read-only, on 0.0.0.0) serves ${f.label}`, async (t) => {
      tf.enableProdMode();
      const orch = open();
      const deps = await testDeps(t, { MLP_ROOT: root }, { orchestrator: orch });
      const [model, app] = [`m${i + 1}`, `serve${i + 1}`];
      const modelDir = path.join(root, 'models', 'alice', model);
      await f.write(modelDir);
      const port = await freePort();
      const col = appsCollection(deps.store);
      await col.insert({ _id: `alice/${app}`, uid: `app-${app}`, name: app, user: 'alice', tenant: 'default', model_name: model, cpu: 1, gpu: 0, ram: 256, port, state: 'creating', res: 'held' });
      for (let j = 0; j < 600 && (await col.get(`alice/${app}`))?.state === 'creating'; j++) {
        await watchPass(deps);
        await new Promise((r) => setTimeout(r, 100));
      }
      const serverLog = path.join(root, 'apps', 'alice', app, 'log', 'server.log');
      t.match(await col.get(`alice/${app}`), { state: 'ready', launched: true }, existsSync(serverLog) ? readFileSync(serverLog, 'utf8').slice(-1500) : 'no server log');
      const pod = (await core.listNamespacedPod({ namespace, labelSelector: byInstance(`app-${app}`) })).items[0]!;
      const c = pod.spec!.containers[0]!;
      t.equal(c.image, 'mlp/model-server-tf:0.1.0');
      t.same(
        c.volumeMounts?.map((m) => [m.mountPath, m.subPath, m.readOnly ?? false]),
        [
          ['/workspace', `apps/alice/${app}`, false],
          [`/mlp/models/alice/${model}`, `models/alice/${model}`, true],
          ['/tmp', undefined, false],
        ],
        'its app folder writable, its model read-only, /tmp its scratch',
      );
      t.match(c.command?.join(' '), new RegExp(`--model-dir /mlp/models/alice/${model} .*--host 0\\.0\\.0\\.0`), "listening on the pod's address");
      t.same(c.readinessProbe?.httpGet, { path: '/health', port, scheme: 'HTTP' });
      t.same(pod.metadata?.labels?.['mlp/app'], app);
      const { upstream } = await readyApp(deps, 'alice', app);
      const res = await fetch(`http://${upstream}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: f.instances }), headers: { 'content-type': 'application/json' } });
      t.match(await res.json(), f.answer, 'it predicts');
      await col.update(`alice/${app}`, {}, { set: { state: 'deleting' } });
      for (let j = 0; j < 200 && (await col.get(`alice/${app}`)); j++) await watchPass(deps);
      t.equal(await col.get(`alice/${app}`), null, 'deleted by the watcher');
      t.equal(await podsLeft(`app-${app}`), 0, 'with its pods');
    });
  }
}
