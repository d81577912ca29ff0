// The TEST KUBELET STAND-IN. A kubelet (and containerd) cannot run here, so this plays the
// kubelet's part — and the scheduler's binding — against a real kube-apiserver
// (scripts/infra/kube.mjs): it registers a Node, binds unscheduled pods to it through
// pods/binding, runs each bound pod's single container as a local process group in bubblewrap
// (kubelet-standin/container.ts), and reports status through pods/status. Everything else
// (Deployments, ReplicaSets, garbage collection, RBAC) is the real Kubernetes code.
// Not a kubelet: one container per pod, no images (host folders stand in for them), host
// network (podIP 127.0.0.1), httpGet readiness probes only, no resource limits.
//
//   import { startKubeletStandin } from './scripts/infra/kubelet-standin.ts';
//   const node = await startKubeletStandin({ kubeconfig, claims: { 'mlp-nfs': root },
//     images: [{ prefix: 'mlp/', dir: checkout, at: '/opt/mlp' }] });
//   ...; await node.stop();
//
// CLI: npx tsx scripts/infra/kubelet-standin.ts --kubeconfig F --claim mlp-nfs=DIR
//   --image mlp/=DIR:/opt/mlp [--image mlp/runtime-tf=VENV:/opt/mlp/venv]
//   [--image-env mlp/runtime-tf=PATH=/opt/mlp/venv/bin:…] [--node N] [--namespace NS]… [--state-dir D] [--backoff-ms MS]
// It runs until SIGINT, SIGTERM or SIGHUP; its containers die with it even if it is SIGKILLed.
import * as k8s from '@kubernetes/client-node';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageLayer } from './kubelet-standin/plan.js';
import { findBwrap } from '../../shared/orchestrator/sandbox.js';
import { PodWorker, type Timing } from './kubelet-standin/pod.js';

export interface KubeletStandinOptions {
  /** Path of a kubeconfig (startKube() returns one); its current context is used. */
  kubeconfig: string;
  /** Default 'mlp-standin'. */
  nodeName?: string;
  /** Whose pods it binds and runs; default: all namespaces. */
  namespaces?: string[];
  /** PersistentVolumeClaim name -> local folder ('mlp-nfs' -> MLP_ROOT). */
  claims: Record<string, string>;
  /** Image name prefix -> local folder bound read-only at `at`. */
  images: ImageLayer[];
  /** Container logs (the kubelet's /var/log/pods) and emptyDir volumes; default <repo>/.mlp/kubelet-standin/<node>. */
  stateDir?: string;
  log?: (msg: string) => void;
  /** Shorter back-off, probe periods and grace periods, for tests. */
  timing?: Partial<Timing>;
}

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const IP = '127.0.0.1';
const code = (err: unknown): number | undefined => (err as { code?: number }).code;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MERGE = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

async function registerNode(core: k8s.CoreV1Api, name: string): Promise<() => Promise<void>> {
  try {
    await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux', 'mlp/kubelet-standin': 'true' } } } });
  } catch (err) {
    if (code(err) !== 409) throw err; // registered by an earlier run: take it over
  }
  const heartbeat = async () => {
    const t = new Date();
    await core.patchNodeStatus(
      {
        name,
        body: {
          status: {
            conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'the test kubelet stand-in is posting ready status', lastHeartbeatTime: t, lastTransitionTime: t }],
            addresses: [
              { type: 'InternalIP', address: IP },
              { type: 'Hostname', address: name },
            ],
          },
        },
      },
      MERGE,
    );
  };
  await heartbeat();
  return heartbeat;
}

export async function startKubeletStandin(o: KubeletStandinOptions): Promise<{ nodeName: string; stop(): Promise<void> }> {
  const bwrap = findBwrap();
  if (!bwrap) throw new Error('the kubelet stand-in needs bubblewrap (bwrap) on PATH');
  const nodeName = o.nodeName ?? 'mlp-standin';
  const log = o.log ?? ((msg: string) => process.stderr.write(`kubelet-standin: ${msg}\n`));
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(o.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const timing: Timing = { backoffMs: 10_000, maxBackoffMs: 300_000, maxProbePeriodMs: Infinity, maxGracePeriodMs: Infinity, ...o.timing };
  const deps = {
    core,
    bwrap,
    nodeName,
    timing,
    log,
    claims: o.claims,
    images: o.images,
    stateDir: path.resolve(o.stateDir ?? path.join(REPO_ROOT, '.mlp', 'kubelet-standin', nodeName)),
  };
  const heartbeat = await registerNode(core, nodeName);
  const beat = setInterval(() => heartbeat().catch((err: unknown) => log(`node heartbeat failed: ${(err as Error).message}`)), 30_000);

  const workers = new Map<string, PodWorker>();
  const bound = new Set<string>();
  const failed = (what: string) => (err: unknown) => log(`${what}: ${(err as Error).stack ?? String(err)}`);

  // The scheduler's part: every unscheduled pod goes to this node.
  const bind = (pod: k8s.V1Pod) => {
    const { name = '', namespace = 'default', uid = '' } = pod.metadata ?? {};
    if (bound.has(uid)) return;
    bound.add(uid);
    core
      .createNamespacedPodBinding({ name, namespace, body: { metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } } })
      .then(() => log(`${namespace}/${name}: bound to ${nodeName}`))
      .catch((err: unknown) => {
        if (code(err) !== 409 && code(err) !== 404) failed(`binding ${namespace}/${name}`)(err);
      });
  };

  const gone = (uid: string) => {
    bound.delete(uid);
    const w = workers.get(uid);
    if (!w) return;
    workers.delete(uid);
    w.kill()
      .then(() => w.cleanup())
      .catch(failed(`killing pod ${uid}`));
  };

  const handle = (type: string, pod: k8s.V1Pod) => {
    const uid = pod.metadata?.uid ?? '';
    if (type === 'DELETED') return gone(uid);
    const spec = pod.spec;
    const deleting = !!pod.metadata?.deletionTimestamp;
    if (!spec?.nodeName) {
      if (!deleting) bind(pod);
      return;
    }
    if (spec.nodeName !== nodeName) return;
    let w = workers.get(uid);
    if (w) {
      w.pod = pod;
      if (deleting) w.terminate().catch(failed(`deleting ${pod.metadata?.name}`));
      return;
    }
    const phase = pod.status?.phase;
    if (!deleting && (phase === 'Succeeded' || phase === 'Failed')) return; // finished before this stand-in started
    w = new PodWorker(pod, deps);
    workers.set(uid, w);
    if (deleting)
      w.terminate().catch(failed(`deleting ${pod.metadata?.name}`)); // no process here: just finish the deletion
    else if (phase === 'Running') w.orphaned('the stand-in kubelet restarted').catch(failed(`failing ${pod.metadata?.name}`));
    else w.start().catch(failed(`starting ${pod.metadata?.name}`));
  };

  // List, then watch from the list's resourceVersion; any end of the watch (410 Gone, a dropped
  // connection, the server's timeout) starts over with a fresh list.
  let stopped = false;
  const enders = new Set<() => void>(); // one per open watch: aborts it and ends its wait
  const watchOnce = async (apiPath: string, resourceVersion: string | undefined): Promise<void> => {
    let ended = false;
    let release!: () => void;
    const over = new Promise<void>((r) => {
      release = r;
    });
    const end = () => {
      ended = true;
      release();
    };
    let ac: AbortController;
    try {
      ac = await new k8s.Watch(kc).watch(
        apiPath,
        { resourceVersion, allowWatchBookmarks: true },
        (type, obj: k8s.V1Pod & k8s.V1Status) => {
          if (ended) return; // the watch is being replaced: a new list will see this
          if (type === 'ERROR') {
            log(`watch ${apiPath}: ${obj.code ?? ''} ${obj.message ?? ''}; listing again`);
            end();
          } else if (type !== 'BOOKMARK') {
            handle(type, obj);
          }
        },
        () => end(),
      );
    } catch (err) {
      if (!stopped) log(`watch ${apiPath} failed: ${(err as Error).message}`);
      return;
    }
    const ender = () => {
      end();
      ac.abort();
    };
    enders.add(ender);
    if (stopped) ender();
    await over;
    enders.delete(ender);
    ac.abort();
  };
  const loop = async (namespace: string | undefined) => {
    const apiPath = namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods';
    while (!stopped) {
      try {
        const list = namespace ? await core.listNamespacedPod({ namespace }) : await core.listPodForAllNamespaces();
        if (stopped) break;
        const seen = new Set(list.items.map((p) => p.metadata?.uid));
        for (const [uid, w] of workers) {
          if (!seen.has(uid) && (!namespace || w.pod.metadata?.namespace === namespace)) gone(uid);
        }
        for (const p of list.items) handle('ADDED', p);
        await watchOnce(apiPath, list.metadata?.resourceVersion);
      } catch (err) {
        if (!stopped) failed(`listing ${apiPath}`)(err);
      }
      if (!stopped) await sleep(500);
    }
  };
  const loops = (o.namespaces?.length ? o.namespaces : [undefined]).map((ns) => loop(ns));
  log(`node ${nodeName} registered; running pods of ${o.namespaces?.join(', ') || 'all namespaces'}`);

  return {
    nodeName,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(beat);
      for (const end of enders) end();
      await Promise.all([...workers.values()].map((w) => w.kill()));
      workers.clear();
      await Promise.allSettled(loops);
    },
  };
}

// ------------------------------------------------------------------------------------------ CLI

function parseArgs(argv: string[]): KubeletStandinOptions {
  const o: KubeletStandinOptions = { kubeconfig: '', claims: {}, images: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--kubeconfig') o.kubeconfig = value;
    else if (flag === '--node') o.nodeName = value;
    else if (flag === '--namespace') (o.namespaces ??= []).push(value);
    else if (flag === '--state-dir') o.stateDir = value;
    else if (flag === '--claim') {
      const m = /^([^=]+)=(.+)$/.exec(value);
      if (!m) throw new Error(`--claim ${value}: expected NAME=DIR`);
      o.claims[m[1]!] = path.resolve(m[2]!);
    } else if (flag === '--image') {
      const m = /^([^=]+)=(.+):(\/.*)$/.exec(value);
      if (!m) throw new Error(`--image ${value}: expected PREFIX=DIR:/PATH`);
      o.images.push({ prefix: m[1]!, dir: path.resolve(m[2]!), at: m[3]! });
    } else if (flag === '--image-env') {
      // An image's ENV: applies to every layer of that prefix given by --image.
      const m = /^([^=]+)=([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(value);
      if (!m) throw new Error(`--image-env ${value}: expected PREFIX=NAME=VALUE`);
      const layer = o.images.find((i) => i.prefix === m[1]);
      if (!layer) throw new Error(`--image-env ${value}: give --image ${m[1]}=… first`);
      layer.env = { ...layer.env, [m[2]!]: m[3]! };
    } else if (flag === '--backoff-ms') {
      // The kubelet's crash-loop back-off starts at 10 s; a test of repeated crashes shortens it.
      const ms = Number(value);
      if (!Number.isInteger(ms) || ms < 0) throw new Error(`--backoff-ms ${value}: expected milliseconds`);
      o.timing = { ...o.timing, backoffMs: ms };
    } else throw new Error(`unknown flag ${flag}`);
  }
  if (!o.kubeconfig) throw new Error('--kubeconfig is required');
  return o;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const node = await startKubeletStandin(parseArgs(process.argv.slice(2)));
    const quit = () =>
      void node.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`kubelet-standin: ${(err as Error).stack ?? String(err)}\n`);
          process.exit(1);
        },
      );
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, quit);
  } catch (err) {
    process.stderr.write(`kubelet-standin: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
