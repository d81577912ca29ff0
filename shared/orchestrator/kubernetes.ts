import * as k8s from '@kubernetes/client-node';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Unavailable } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { INSTANCE, isTerminal, labelsOf, MANAGED_BY, mountsOf, objectName, podSpecOf, PROGRAM, serviceEndpoint, statusOfPods, STOPPED } from './kube-pods.js';
import { startPodWatcher, statusFeed, type PodWatcher } from './kube-watch.js';
import type { Orchestrator, Workload, WorkloadStatus } from './port.js';
import type { Runtime } from '../runtimes/catalog.js';

export interface KubernetesOrchestratorOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  /** Each runtime's job image. */
  jobImages: Record<Runtime, string>;
  modelServerImage: string;
  /** The NFS PersistentVolumeClaim whose root is `root`. */
  claimName: string;
  /** MLP_ROOT: workloads' paths under it are mounted from the claim. */
  root: string;
  /** Where the images hold the platform's checkout ('/opt/mlp'). */
  imageRoot: string;
  /** How the app gateway reaches a server: its Service's name, or its ready pod's IP. */
  endpointMode: 'service' | 'pod';
  ingressClass?: string;
  log: Logger;
  now?: () => Date;
  /** Seconds a stopped pod has to end after SIGTERM (Kubernetes' grace period). */
  graceSeconds?: number;
  /** How long stop() waits for the pods to end before it returns anyway (the kubelet ends them). */
  stopWaitMs?: number;
  /** The checkout whose paths commands hold (default: this one). */
  checkout?: string;
}

// The checkout holding this file: from source shared/orchestrator/ is two levels down; built, it
// is dist/shared/orchestrator/, and the images hold dist/ inside the checkout's layout too.
const CHECKOUT = ((dir) => (import.meta.url.endsWith('.js') && path.basename(dir) === 'dist' ? path.dirname(dir) : dir))(path.resolve(fileURLToPath(new URL('../../', import.meta.url))));
const codeOf = (err: unknown) => (err as { code?: number }).code;
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

/**
 * The Orchestrator port on Kubernetes: a job is a Pod, an app a Deployment with a Service (and an
 * Ingress when a class is configured), all labelled by workload id in one namespace. Workloads
 * outlive this process (several functions share them): status answers from the API, stop leaves
 * its mark on the pods (an annotation and a finalizer that forget() removes), and close() ends only
 * this process's watch.
 */
export function createKubernetesOrchestrator(o: KubernetesOrchestratorOptions): Orchestrator {
  const ns = o.namespace;
  const now = () => (o.now ?? (() => new Date()))().toISOString();
  const core = o.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const apps = o.kubeConfig.makeApiClient(k8s.AppsV1Api);
  const net = o.kubeConfig.makeApiClient(k8s.NetworkingV1Api);
  const graceSeconds = o.graceSeconds ?? 10;
  const stopWaitMs = o.stopWaitMs ?? (graceSeconds + 10) * 1000;
  const selector = (id: string) => `${INSTANCE}=${id}`;

  // The watch: started on first use; statuses are deduped per id (phase and readiness).
  const listeners = new Set<(s: WorkloadStatus) => void>();
  const feed = statusFeed((s) => {
    for (const l of listeners) {
      try {
        l({ ...s });
      } catch (err) {
        o.log.error('orchestrator listener failed', { id: s.id, err: (err as Error).message });
      }
    }
  });
  let watcher: PodWatcher | undefined;
  const ensureWatcher = () => {
    watcher ??= startPodWatcher({ kubeConfig: o.kubeConfig, namespace: ns, labelSelector: `${MANAGED_BY}=mlp`, log: o.log, onEvent: feed.onEvent });
    return watcher;
  };
  // Pod endpoints are read from the watch's cache, so it runs from the start.
  if (o.endpointMode === 'pod') ensureWatcher();

  const listPods = async (id: string) => (await core.listNamespacedPod({ namespace: ns, labelSelector: selector(id) })).items;
  const ignore404 = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      if (codeOf(err) !== 404) throw err;
    }
  };

  const status = async (id: string): Promise<WorkloadStatus | null> => {
    const s = statusOfPods(id, await listPods(id));
    if (s) return s;
    // An app whose Deployment has no pod yet (or between pods) is pending.
    try {
      const d = await apps.readNamespacedDeployment({ namespace: ns, name: objectName({ kind: 'app', id }) });
      return d.metadata?.annotations?.[STOPPED] ? { id, phase: 'failed', reason: 'stopped', ready: false } : { id, phase: 'pending' };
    } catch (err) {
      if (codeOf(err) === 404) return null;
      throw err;
    }
  };

  /** Its writable folders exist before the pod mounts them (the platform shares MLP_ROOT with the pods). */
  const prepare = async (w: Workload) => {
    for (const m of mountsOf(w, o.root)) if (!m.readOnly) await mkdir(m.host, { recursive: true });
  };

  const startJob = async (w: Workload, meta: k8s.V1ObjectMeta) => {
    await core.createNamespacedPod({ namespace: ns, body: { metadata: meta, spec: podSpecOf(w, spec(w)) } });
  };

  const spec = (w: Workload) => ({
    image: w.kind === 'job' ? o.jobImages[w.runtime ?? 'tf'] : o.modelServerImage,
    claimName: o.claimName,
    root: o.root,
    checkout: o.checkout ?? CHECKOUT,
    imageRoot: o.imageRoot,
  });

  /**
   * Deployment, then Service, then Ingress. Starting again (409) still makes what an earlier start
   * that died midway did not; what a refused step of this start leaves is removed before the error
   * goes up (an app that was there before is left alone).
   */
  const startApp = async (w: Workload, meta: k8s.V1ObjectMeta) => {
    const name = meta.name!;
    const labels = meta.labels!;
    const match = { [INSTANCE]: w.id, 'app.kubernetes.io/name': 'mlp-app' };
    const port = w.health?.port ?? 8501;
    const created = await exists409(
      apps.createNamespacedDeployment({
        namespace: ns,
        body: { metadata: meta, spec: { replicas: 1, selector: { matchLabels: match }, template: { metadata: { labels, annotations: meta.annotations }, spec: podSpecOf(w, spec(w)) } } },
      }),
    );
    try {
      await exists409(core.createNamespacedService({ namespace: ns, body: { metadata: { name, labels }, spec: { selector: match, ports: [{ name: 'http', port, targetPort: port }] } } }));
      if (o.ingressClass) {
        await exists409(
          net.createNamespacedIngress({
            namespace: ns,
            body: {
              metadata: { name, labels },
              spec: { ingressClassName: o.ingressClass, rules: [{ http: { paths: [{ path: `/${name}`, pathType: 'Prefix', backend: { service: { name, port: { number: port } } } }] } }] },
            },
          }),
        );
      }
    } catch (err) {
      if (created) {
        o.log.error('app create failed midway; removing what it made', { id: w.id, err: (err as Error).message });
        await removeAll(w.id).catch((cleanup: unknown) => o.log.error('cleanup after a failed create failed', { id: w.id, err: (cleanup as Error).message }));
      }
      throw err;
    }
  };

  /** True when it made the object, false when it was there already (409). */
  const exists409 = async (p: Promise<unknown>): Promise<boolean> => {
    try {
      await p;
      return true;
    } catch (err) {
      if (codeOf(err) === 409) return false;
      throw err;
    }
  };

  /** Deletes everything of a workload by its label, pods at once (they have ended, or are being forgotten). */
  const removeAll = async (id: string) => {
    const name = objectName({ kind: 'app', id });
    await ignore404(net.deleteNamespacedIngress({ namespace: ns, name }));
    await ignore404(core.deleteNamespacedService({ namespace: ns, name }));
    await ignore404(apps.deleteNamespacedDeployment({ namespace: ns, name, propagationPolicy: 'Background' }));
    for (const pod of await listPods(id)) {
      if (pod.metadata?.finalizers?.length) await ignore404(core.patchNamespacedPod({ namespace: ns, name: pod.metadata.name!, body: { metadata: { finalizers: null } } }, MERGE));
    }
    await core.deleteCollectionNamespacedPod({ namespace: ns, labelSelector: selector(id), gracePeriodSeconds: 0 });
  };

  const stop = async (id: string) => {
    const pods = await listPods(id);
    const live = pods.filter((p) => !isTerminal(p));
    const name = objectName({ kind: 'app', id });
    let deployment = true;
    try {
      await apps.patchNamespacedDeployment({ namespace: ns, name, body: { metadata: { annotations: { [STOPPED]: now() } } } }, MERGE);
    } catch (err) {
      if (codeOf(err) !== 404) throw err;
      deployment = false;
    }
    // A job that has ended keeps its outcome; only what still runs is stopped.
    if (live.length === 0 && !deployment) return;
    const at = now();
    // The mark first (it is what every process's status reads), then the deletions.
    for (const pod of live) {
      if (pod.metadata?.annotations?.[STOPPED]) continue;
      await ignore404(
        core.patchNamespacedPod(
          { namespace: ns, name: pod.metadata!.name!, body: { metadata: { annotations: { [STOPPED]: at }, finalizers: [...(pod.metadata?.finalizers ?? []), STOPPED] } } },
          MERGE,
        ),
      );
    }
    if (deployment) {
      await ignore404(net.deleteNamespacedIngress({ namespace: ns, name }));
      await ignore404(core.deleteNamespacedService({ namespace: ns, name }));
      await ignore404(apps.deleteNamespacedDeployment({ namespace: ns, name, propagationPolicy: 'Background' }));
    }
    await core.deleteCollectionNamespacedPod({ namespace: ns, labelSelector: selector(id), gracePeriodSeconds: graceSeconds });
    // Wait (bounded) until the kubelet has ended them: it reports a final phase, or finishes the
    // deletion (grace 0; our finalizer keeps the pod); an unscheduled pod never ran.
    const deadline = Date.now() + stopWaitMs;
    for (;;) {
      const left = (await listPods(id)).filter((p) => !isTerminal(p) && p.spec?.nodeName && p.metadata?.deletionGracePeriodSeconds !== 0);
      if (left.length === 0 || Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  return {
    kind: 'kubernetes',
    async start(w) {
      const meta: k8s.V1ObjectMeta = { name: objectName(w), labels: labelsOf(w), annotations: { [PROGRAM]: w.command[0] ?? '' } };
      await prepare(w);
      try {
        if (w.kind === 'job') await startJob(w, meta);
        else await startApp(w, meta);
      } catch (err) {
        // Started already (by this or another process): its status, nothing new.
        if (codeOf(err) !== 409) throw err;
      }
      return (await status(w.id)) ?? { id: w.id, phase: 'pending' };
    },
    stop,
    status,
    async forget(id) {
      const s = await status(id);
      if (s && (s.phase === 'pending' || s.phase === 'running')) await stop(id);
      await removeAll(id);
    },
    endpoint(id, port) {
      if (o.endpointMode === 'service') return serviceEndpoint(ns, id, port);
      const ready = feed.pods(id).find((p) => !p.metadata?.deletionTimestamp && p.status?.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      if (!ready) throw new Unavailable('the app has no ready pod right now; try again shortly');
      return `${ready.status!.podIP}:${port}`;
    },
    // Each pod has its own address: ports never collide.
    portAvailable: async () => true,
    watch(listener) {
      ensureWatcher();
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
      await watcher?.stop();
    },
  };
}
