import * as k8s from '@kubernetes/client-node';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { startKubeletStandin } from '../../scripts/infra/kubelet-standin.js';
import { startTestKube } from '../helpers/kube.js';

// The TEST KUBELET STAND-IN (scripts/infra/kubelet-standin.ts) against a real kube-apiserver and
// kube-controller-manager (scripts/infra/kube.mjs, startKube({ controllers: true })): pods created
// through the API run as local processes in bubblewrap, and their status comes back through the API.
// The stand-in plays only the kubelet and the scheduler's binding; Deployments, ReplicaSets and
// garbage collection are the real controllers. Back-off, probe and grace periods are shortened.

const CHECKOUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `get` answers something `ok` accepts; fails with the last answer after `limitMs` (a bound, not an assertion on time). */
async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, limitMs = 60_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await get();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not reached; last: ${JSON.stringify(last ?? String(lastErr)).slice(0, 1500)}`);
    await sleep(250);
  }
}

/** Host pids whose command line contains `marker` (the container's processes, seen from the host). */
function pidsWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8');
      if (cmd.includes(marker) && !cmd.includes('bwrap')) pids.push(Number(name));
    } catch {
      // ended while listed
    }
  }
  return pids;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

if (!process.env.MLP_TEST_KUBE) {
  t.plan(0, 'MLP_TEST_KUBE not set (npm test and npm run test:kube set it)');
} else {
  const kube = await startTestKube({ controllers: true });
  const root = mkdtempSync(path.join(os.tmpdir(), 'mlp-standin-test-'));
  let node: { stop(): Promise<void> } | undefined;
  // The stand-in first (it kills its containers), then the API server, then the files.
  t.teardown(async () => {
    await node?.stop();
    await kube.stop();
    rmSync(root, { recursive: true, force: true });
  });
  const nfs = path.join(root, 'nfs');
  const stateDir = path.join(root, 'state');
  mkdirSync(nfs);
  const layer = path.join(root, 'layer');
  mkdirSync(path.join(layer, 'bin'), { recursive: true });
  writeFileSync(path.join(layer, 'bin', 'hello-layer'), '#!/bin/sh\necho "layer says $1"\n', { mode: 0o755 });
  const logs: string[] = [];
  node = await startKubeletStandin({
    kubeconfig: kube.kubeconfig,
    nodeName: 'standin-test',
    namespaces: ['standin'],
    claims: { 'mlp-nfs': nfs },
    images: [
      { prefix: 'mlp/', dir: CHECKOUT, at: '/opt/mlp' },
      // A layer inside another image's folder, with the image's own PATH (as a runtime image adds its venv).
      { prefix: 'mlp/layered', dir: layer, at: '/opt/mlp/venv', env: { PATH: `/opt/mlp/venv/bin:${DEFAULT_PATH}` } },
    ],
    stateDir,
    log: (m) => logs.push(m),
    timing: { backoffMs: 200, maxBackoffMs: 1000, maxProbePeriodMs: 300, maxGracePeriodMs: 3000 },
  });
  t.afterEach((t) => {
    if (t.passing()) return;
    const podLogs = readdirSync(stateDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.log'))
      .map((f) => `${f}: ${readFileSync(path.join(stateDir, f), 'utf8').slice(-500)}`);
    t.comment(`stand-in log:\n${logs.slice(-40).join('\n')}\ncontainer logs:\n${podLogs.join('\n')}`);
  });

  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  const namespace = 'standin';
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const readPod = (name: string) => core.readNamespacedPod({ name, namespace });
  const job = (name: string, script: string, more: Partial<k8s.V1Container> = {}, spec: Partial<k8s.V1PodSpec> = {}): k8s.V1Pod => ({
    metadata: { name },
    spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'mlp/runtime-tf:0.1.0', command: ['sh', '-c', script], ...more }], ...spec },
  });
  const finished = (name: string) =>
    until(
      `${name} finishes`,
      () => readPod(name),
      (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
    );

  t.test('stand-in: the node is registered Ready and pods get bound to it', async (t) => {
    const n = await core.readNode({ name: 'standin-test' });
    t.equal(n.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    await core.createNamespacedPod({ namespace, body: job('exit-0', 'echo hi; exit 0') });
    const done = await finished('exit-0');
    t.equal(done.spec?.nodeName, 'standin-test', 'bound through pods/binding');
  });

  t.test('stand-in: a Never pod exiting 3 ends Failed with exitCode 3; exiting 0 Succeeded', async (t) => {
    await core.createNamespacedPod({ namespace, body: job('exit-3', 'echo hi; exit 3') });
    const failed = await finished('exit-3');
    t.equal(failed.status?.phase, 'Failed');
    const term = failed.status?.containerStatuses?.[0]?.state?.terminated;
    t.equal(term?.exitCode, 3);
    t.equal(term?.reason, 'Error');
    t.ok(term?.finishedAt, 'finishedAt is set');
    t.equal(failed.status?.podIP, '127.0.0.1');
    const ok = await finished('exit-0');
    t.equal(ok.status?.phase, 'Succeeded');
    t.equal(ok.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 0);
    t.equal(ok.status?.containerStatuses?.[0]?.state?.terminated?.reason, 'Completed');
    const logFile = path.join(stateDir, 'pods', `${namespace}_exit-3_${failed.metadata?.uid}`, 'job', '0.log');
    t.equal(readFileSync(logFile, 'utf8'), 'hi\n', 'stdout went to the pod log under stateDir');
  });

  t.test('stand-in: env (value, secretKeyRef, configMapKeyRef, fieldRef) and workingDir arrive', async (t) => {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: 's' }, stringData: { token: 's3cret' } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'cm' }, data: { mode: 'fast' } } });
    mkdirSync(path.join(nfs, 'jobs', 'env'), { recursive: true });
    await core.createNamespacedPod({
      namespace,
      body: job(
        'env',
        'echo "$A|$B|$SEC|$CM|$POD|$NS|$(pwd)" > out.txt',
        {
          workingDir: '/workspace',
          env: [
            { name: 'A', value: 'one' },
            { name: 'B', value: '$(A)-two' },
            { name: 'SEC', valueFrom: { secretKeyRef: { name: 's', key: 'token' } } },
            { name: 'CM', valueFrom: { configMapKeyRef: { name: 'cm', key: 'mode' } } },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          ],
          volumeMounts: [{ name: 'nfs', mountPath: '/workspace', subPath: 'jobs/env' }],
        },
        { volumes: [{ name: 'nfs', persistentVolumeClaim: { claimName: 'mlp-nfs' } }] },
      ),
    });
    const p = await finished('env');
    t.equal(p.status?.phase, 'Succeeded', p.status?.message ?? '');
    t.equal(readFileSync(path.join(nfs, 'jobs', 'env', 'out.txt'), 'utf8'), 'one|one-two|s3cret|fast|env|standin|/workspace\n');
  });

  t.test('stand-in: a readOnly subPath refuses writes, a writable one takes them, nothing else of the claim shows', async (t) => {
    mkdirSync(path.join(nfs, 'jobs', 'j2'), { recursive: true });
    mkdirSync(path.join(nfs, 'datasets', 'd'), { recursive: true });
    mkdirSync(path.join(nfs, 'users', 'bob'), { recursive: true });
    writeFileSync(path.join(nfs, 'datasets', 'd', 'in.txt'), 'data\n');
    writeFileSync(path.join(nfs, 'users', 'bob', 'secret.txt'), 'bob\n');
    const script = [
      'cat /data/in.txt > report.txt',
      '(echo x > /data/new.txt) 2>/dev/null && echo ro-written >> report.txt || echo ro-refused >> report.txt',
      `[ -e ${nfs}/users/bob/secret.txt ] && echo host-claim-visible >> report.txt || echo host-claim-hidden >> report.txt`,
      `[ -e ${CHECKOUT}/package.json ] && echo checkout-visible >> report.txt || echo checkout-hidden >> report.txt`,
      '[ -e /opt/mlp/package.json ] && echo image-at-opt-mlp >> report.txt',
      'echo scratch > /scratch/f && cat /scratch/f >> report.txt',
      'ls / | tr "\\n" " " >> report.txt',
    ].join('; ');
    await core.createNamespacedPod({
      namespace,
      body: job(
        'mounts',
        script,
        {
          workingDir: '/workspace',
          volumeMounts: [
            { name: 'nfs', mountPath: '/workspace', subPath: 'jobs/j2' },
            { name: 'nfs', mountPath: '/data', subPath: 'datasets/d', readOnly: true },
            { name: 'scratch', mountPath: '/scratch' },
          ],
        },
        {
          volumes: [
            { name: 'nfs', persistentVolumeClaim: { claimName: 'mlp-nfs' } },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      ),
    });
    const p = await finished('mounts');
    t.equal(p.status?.phase, 'Succeeded', p.status?.message ?? '');
    const report = readFileSync(path.join(nfs, 'jobs', 'j2', 'report.txt'), 'utf8').split('\n');
    t.same(report.slice(0, 6), ['data', 'ro-refused', 'host-claim-hidden', 'checkout-hidden', 'image-at-opt-mlp', 'scratch'], 'the emptyDir is writable too');
    t.notOk(existsSync(path.join(nfs, 'datasets', 'd', 'new.txt')), 'nothing was written through the readOnly mount');
    t.notMatch(report[6] ?? '', /\b(work|home)\b/, `the root holds only the system folders and mounts: ${report[6]}`);
  });

  t.test("stand-in: an image layer inside another image's folder is there, on the image's PATH, both read-only", async (t) => {
    mkdirSync(path.join(nfs, 'jobs', 'layered'), { recursive: true });
    const script = [
      'hello-layer one > report.txt',
      'head -c 1 /opt/mlp/package.json >> report.txt && echo >> report.txt',
      '(echo x > /opt/mlp/new.txt) 2>/dev/null && echo image-written >> report.txt || echo image-refused >> report.txt',
      '(echo x > /opt/mlp/venv/new.txt) 2>/dev/null && echo layer-written >> report.txt || echo layer-refused >> report.txt',
      'echo "$PATH" >> report.txt',
    ].join('; ');
    await core.createNamespacedPod({
      namespace,
      body: job(
        'layered',
        script,
        {
          image: 'mlp/layered:0.1.0',
          workingDir: '/workspace',
          volumeMounts: [{ name: 'nfs', mountPath: '/workspace', subPath: 'jobs/layered' }],
        },
        { volumes: [{ name: 'nfs', persistentVolumeClaim: { claimName: 'mlp-nfs' } }] },
      ),
    });
    const p = await finished('layered');
    t.equal(p.status?.phase, 'Succeeded', p.status?.message ?? '');
    const report = readFileSync(path.join(nfs, 'jobs', 'layered', 'report.txt'), 'utf8').split('\n');
    t.same(report.slice(0, 5), ['layer says one', '{', 'image-refused', 'layer-refused', `/opt/mlp/venv/bin:${DEFAULT_PATH}`]);
    t.notOk(existsSync(path.join(CHECKOUT, 'venv')), 'no mount point was made in the checkout');
    t.notOk(existsSync(path.join(layer, 'new.txt')), 'nothing was written into the layer');
  });

  t.test('stand-in: a pod it cannot run ends Failed with a reason naming the cause', async (t) => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'two' },
        spec: {
          restartPolicy: 'Never',
          containers: [
            { name: 'a', image: 'mlp/x', command: ['true'] },
            { name: 'b', image: 'mlp/x', command: ['true'] },
          ],
        },
      },
    });
    await core.createNamespacedPod({
      namespace,
      body: job('claim', 'true', { volumeMounts: [{ name: 'v', mountPath: '/v' }] }, { volumes: [{ name: 'v', persistentVolumeClaim: { claimName: 'other' } }] }),
    });
    const two = await finished('two');
    t.equal(two.status?.phase, 'Failed');
    t.match(two.status?.message, /exactly one container/);
    const claim = await finished('claim');
    t.equal(claim.status?.phase, 'Failed');
    t.match(claim.status?.message, /PersistentVolumeClaim "other"/);
  });

  t.test('stand-in: deleting a pod kills its process and finishes the deletion', async (t) => {
    const marker = `standin-sleeper-${process.pid}`;
    await core.createNamespacedPod({ namespace, body: job('sleeper', `sleep 300; echo ${marker}`) });
    await until(
      'sleeper runs',
      () => readPod('sleeper'),
      (p) => p.status?.phase === 'Running',
    );
    const pids = await until(
      'its process shows',
      async () => pidsWith(marker),
      (p) => p.length > 0,
    );
    await core.deleteNamespacedPod({ name: 'sleeper', namespace });
    await until(
      'the pod is gone',
      () =>
        readPod('sleeper').then(
          () => 'still there',
          (err: { code?: number }) => (err.code === 404 ? 'gone' : `error ${err.code}`),
        ),
      (s) => s === 'gone',
    );
    await until(
      'its process is gone',
      async () => pids.filter((pid) => existsSync(`/proc/${pid}`)),
      (left) => left.length === 0,
      10_000,
    );
    t.pass('pod and process are gone');
  });

  t.test('stand-in: a Deployment becomes Ready; a killed container restarts; a deleted pod is replaced', async (t) => {
    const port = await freePort();
    const marker = `standin-web-${process.pid}`;
    // Retries listen: a replacement may start while the pod it replaces still holds the port.
    const server = `const http = require('node:http');
      const s = http.createServer((q, r) => r.end(q.url === '/ready' ? 'ok' : 'hello'));
      const go = () => s.listen(Number(process.env.PORT), '127.0.0.1');
      s.on('error', () => setTimeout(go, 200)); go(); // ${marker}`;
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: {
              terminationGracePeriodSeconds: 5,
              containers: [
                {
                  name: 'web',
                  image: 'mlp/model-server-tf:0.1.0',
                  command: ['node', '-e', server],
                  env: [{ name: 'PORT', value: String(port) }],
                  ports: [{ name: 'http', containerPort: port }],
                  readinessProbe: { httpGet: { path: '/ready', port: 'http' as unknown as k8s.IntOrString }, periodSeconds: 10 },
                },
              ],
            },
          },
        },
      },
    });
    const readyPod = async (not?: string) =>
      until(
        'a Ready pod of web',
        async () => (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items,
        (items) => items.some((p) => p.metadata?.name !== not && !p.metadata?.deletionTimestamp && p.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'),
      ).then((items) => items.find((p) => p.metadata?.name !== not && !p.metadata?.deletionTimestamp)!);
    const first = await readyPod();
    t.equal(first.status?.containerStatuses?.[0]?.ready, true);
    t.equal(first.status?.conditions?.find((c) => c.type === 'ContainersReady')?.status, 'True');
    const dep = await until(
      'the Deployment counts it ready',
      () => apps.readNamespacedDeployment({ name: 'web', namespace }),
      (d) => d.status?.readyReplicas === 1,
    );
    t.equal(dep.status?.readyReplicas, 1);

    const name = first.metadata!.name!;
    const [pid] = await until(
      'the server process shows',
      async () => pidsWith(marker),
      (p) => p.length === 1,
    );
    process.kill(pid!, 'SIGKILL');
    const restarted = await until(
      'the container restarted and is ready',
      () => readPod(name),
      (p) => p.status?.containerStatuses?.[0]?.restartCount === 1 && p.status?.containerStatuses?.[0]?.ready === true,
    );
    t.equal(restarted.status?.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 137, 'lastState: killed (128+9)');
    t.ok(restarted.status?.containerStatuses?.[0]?.state?.running, 'running again');

    const [pid2] = await until(
      'the restarted process shows',
      async () => pidsWith(marker),
      (p) => p.length === 1,
    );
    await core.deleteNamespacedPod({ name, namespace });
    const second = await readyPod(name);
    t.not(second.metadata?.name, name, 'the ReplicaSet made a new pod');
    t.equal(second.metadata?.ownerReferences?.[0]?.kind, 'ReplicaSet');
    await until(
      'the old pod is gone',
      () =>
        readPod(name).then(
          () => 'there',
          (err: { code?: number }) => (err.code === 404 ? 'gone' : 'error'),
        ),
      (s) => s === 'gone',
    );
    t.notOk(existsSync(`/proc/${pid2}`) && readFileSync(`/proc/${pid2}/cmdline`, 'utf8').includes(marker), "the old pod's process was stopped");
    await apps.deleteNamespacedDeployment({ name: 'web', namespace });
    await until(
      "the Deployment's pods are gone (garbage collector)",
      async () => (await core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items.length,
      (n) => n === 0,
    );
    t.same(pidsWith(marker), [], 'no server process is left');
  });

  t.test('stand-in: a pod deleted outright (grace 0) has its process killed', async (t) => {
    const marker = `standin-outright-${process.pid}`;
    await core.createNamespacedPod({ namespace, body: job('outright', `sleep 300; echo ${marker}`) });
    await until(
      'it runs',
      () => readPod('outright'),
      (p) => p.status?.phase === 'Running',
    );
    const pids = await until(
      'its process shows',
      async () => pidsWith(marker),
      (p) => p.length > 0,
    );
    await core.deleteNamespacedPod({ name: 'outright', namespace, gracePeriodSeconds: 0 });
    await until(
      'its process is gone',
      async () => pids.filter((pid) => existsSync(`/proc/${pid}`)),
      (left) => left.length === 0,
      10_000,
    );
    t.pass('killed');
  });

  t.test('stand-in: an Always pod that keeps failing shows CrashLoopBackOff between restarts', async (t) => {
    const list = await core.listNamespacedPod({ namespace });
    const seen: k8s.V1ContainerStatus[] = [];
    const ac = await new k8s.Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { resourceVersion: list.metadata?.resourceVersion, fieldSelector: 'metadata.name=crasher' },
      (_type: string, p: k8s.V1Pod) => {
        const cs = p.status?.containerStatuses?.[0];
        if (cs) seen.push(cs);
      },
      () => undefined,
    );
    t.teardown(() => ac.abort());
    await core.createNamespacedPod({ namespace, body: job('crasher', 'exit 1', {}, { restartPolicy: 'Always' }) });
    const p = await until(
      'two restarts',
      () => readPod('crasher'),
      (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 2,
    );
    t.equal(p.status?.phase, 'Running', 'a restarting pod stays Running');
    const waiting = seen.find((cs) => cs.state?.waiting?.reason === 'CrashLoopBackOff');
    t.ok(waiting, 'a status with state.waiting CrashLoopBackOff was written');
    t.equal(waiting?.lastState?.terminated?.exitCode, 1, 'with the exit in lastState.terminated');
    await core.deleteNamespacedPod({ name: 'crasher', namespace });
    await until(
      'crasher is gone',
      () =>
        readPod('crasher').then(
          () => 'there',
          (err: { code?: number }) => (err.code === 404 ? 'gone' : 'error'),
        ),
      (s) => s === 'gone',
    );
  });

  t.test('stand-in: after a restart of the stand-in, a pod that claims Running but has no process is marked Failed', async (t) => {
    const marker = `standin-orphan-${process.pid}`;
    await core.createNamespacedPod({ namespace, body: job('orphan', `sleep 300; echo ${marker}`) });
    await until(
      'it runs',
      () => readPod('orphan'),
      (p) => p.status?.phase === 'Running',
    );
    await node!.stop();
    // The script runs in bwrap's own pid namespace: SIGKILLed with it, it can show in /proc for a
    // moment after bwrap itself has exited.
    t.same(
      await until(
        'its process gone',
        async () => pidsWith(marker),
        (p) => p.length === 0,
        10_000,
      ),
      [],
      'stop() killed its process',
    );
    node = await startKubeletStandin({
      kubeconfig: kube.kubeconfig,
      nodeName: 'standin-test',
      namespaces: ['standin'],
      claims: { 'mlp-nfs': nfs },
      images: [],
      stateDir,
      log: (m) => logs.push(m),
    });
    const p = await until(
      'it is marked Failed',
      () => readPod('orphan'),
      (p) => p.status?.phase === 'Failed',
    );
    t.equal(p.status?.message, 'the stand-in kubelet restarted');
  });
}
