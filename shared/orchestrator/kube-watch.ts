import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../core/log.js';
import { INSTANCE, statusOfPods } from './kube-pods.js';
import type { WorkloadStatus } from './port.js';

/** How a watch ended: the server or the network closed it (resume), or its resourceVersion is gone (re-list). */
type WatchEnd = 'ended' | 'gone';

export interface PodWatcherOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  labelSelector: string;
  log: Logger;
  /** Every pod the list or the watch reports (upsert), and every pod that went (delete). Re-lists report every pod again: the consumer dedupes. */
  onEvent(type: 'upsert' | 'delete', pod: k8s.V1Pod): void;
  /** Backoff after errors: base, doubling per failure in a row, at most max; jittered (half to full). */
  backoff?: { baseMs: number; maxMs: number };
  /** Seconds the server keeps one watch open before it ends it (the watcher then resumes). */
  watchSeconds?: number;
}

export interface PodWatcher {
  /** Resolves once the first list is in (the cache then holds every pod). */
  readonly synced: Promise<void>;
  /** The pods as last seen, by name. */
  pods(): k8s.V1Pod[];
  /** What it did so far: lists (the first and each re-list), watches opened, 410s seen. */
  readonly stats: { lists: number; watches: number; gone: number; errors: number };
  /**
   * Ends the open watch as a dropped connection would; it resumes from the last resourceVersion
   * seen, or from `resumeFrom` when given (tests: an old one forces the server's 410 Gone).
   */
  dropConnection(resumeFrom?: string): void;
  stop(): Promise<void>;
}

const jitter = (ms: number) => Math.round(ms * (0.5 + Math.random() / 2));

/**
 * Pods by label, kept current: list, then watch from the list's resourceVersion; a watch that ends
 * (the server's timeout, a dropped connection) resumes from the last resourceVersion seen
 * (bookmarks keep it fresh); a 410 Gone (that version compacted away) re-lists, reporting every
 * pod and the deletions it missed; errors back off with jitter. It never skips a change: either the
 * watch delivers it, or the next list shows its result.
 */
export function startPodWatcher(o: PodWatcherOptions): PodWatcher {
  const core = o.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const backoff = o.backoff ?? { baseMs: 250, maxMs: 10_000 };
  const cache = new Map<string, k8s.V1Pod>();
  const stats = { lists: 0, watches: 0, gone: 0, errors: 0 };
  let resourceVersion: string | undefined;
  let stopped = false;
  let current: AbortController | undefined;
  let wake: (() => void) | undefined;
  let resolveSynced!: () => void;
  const synced = new Promise<void>((r) => (resolveSynced = r));

  const apply = (type: 'upsert' | 'delete', pod: k8s.V1Pod) => {
    const name = pod.metadata?.name ?? '';
    if (type === 'delete') cache.delete(name);
    else cache.set(name, pod);
    try {
      o.onEvent(type, pod);
    } catch (err) {
      o.log.error('pod watcher consumer failed', { pod: name, err: (err as Error).message });
    }
  };

  const relist = async () => {
    const list = await core.listNamespacedPod({ namespace: o.namespace, labelSelector: o.labelSelector });
    stats.lists += 1;
    const seen = new Set<string>();
    for (const pod of list.items) {
      seen.add(pod.metadata?.name ?? '');
      apply('upsert', pod);
    }
    for (const [name, pod] of [...cache]) if (!seen.has(name)) apply('delete', pod);
    resourceVersion = list.metadata?.resourceVersion;
    resolveSynced();
  };

  const watchOnce = (): Promise<{ end: WatchEnd; events: number }> =>
    new Promise((resolve, reject) => {
      let events = 0;
      let gone = false;
      let failure: Error | undefined;
      const controller = new k8s.Watch(o.kubeConfig).watch(
        `/api/v1/namespaces/${o.namespace}/pods`,
        { labelSelector: o.labelSelector, resourceVersion, allowWatchBookmarks: true, timeoutSeconds: o.watchSeconds ?? 300 },
        (type: string, obj: k8s.V1Pod & { code?: number; message?: string }) => {
          events += 1;
          if (type === 'ERROR') {
            // The server answers an expired resourceVersion with a 410 Status inside the stream.
            if (obj.code === 410) gone = true;
            else failure = new Error(`watch error ${obj.code ?? ''}: ${obj.message ?? 'unknown'}`);
            current?.abort();
            return;
          }
          if (obj.metadata?.resourceVersion) resourceVersion = obj.metadata.resourceVersion;
          if (type === 'BOOKMARK') return;
          apply(type === 'DELETED' ? 'delete' : 'upsert', obj);
        },
        (err: unknown) => {
          current = undefined;
          const code = (err as { statusCode?: number } | null)?.statusCode;
          if (gone || code === 410) resolve({ end: 'gone', events });
          else if (failure) reject(failure);
          // Our own abort (drop, stop) and the server's close both mean: resume.
          else if (err && (err as Error).name !== 'AbortError') reject(err as Error);
          else resolve({ end: 'ended', events });
        },
      );
      controller.then((c) => {
        stats.watches += 1;
        current = c;
        if (stopped) c.abort();
      }, reject);
    });

  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const timer = setTimeout(r, ms);
      wake = () => {
        clearTimeout(timer);
        r();
      };
    });

  const loop = async () => {
    let failures = 0;
    while (!stopped) {
      try {
        if (resourceVersion === undefined) await relist();
        if (stopped) break;
        const { end, events } = await watchOnce();
        if (end === 'gone') {
          stats.gone += 1;
          o.log.info('pod watch: resourceVersion gone (410), re-listing', { resourceVersion });
          resourceVersion = undefined;
        }
        // A watch that ends at once without an event counts as a failure, so it cannot spin.
        failures = events > 0 ? 0 : failures + 1;
        if (failures > 0 && !stopped) await sleep(jitter(Math.min(backoff.maxMs, backoff.baseMs * 2 ** (failures - 1))));
      } catch (err) {
        failures += 1;
        stats.errors += 1;
        const code = (err as { code?: number; statusCode?: number }).code ?? (err as { statusCode?: number }).statusCode;
        if (code === 410) resourceVersion = undefined;
        o.log.warn('pod watch failed; retrying', { err: (err as Error).message, failures });
        if (!stopped) await sleep(jitter(Math.min(backoff.maxMs, backoff.baseMs * 2 ** (failures - 1))));
      }
    }
  };
  const done = loop();

  return {
    synced,
    stats,
    pods: () => [...cache.values()],
    dropConnection(resumeFrom) {
      if (resumeFrom !== undefined) resourceVersion = resumeFrom;
      current?.abort();
    },
    async stop() {
      stopped = true;
      current?.abort();
      wake?.();
      await done;
    },
  };
}

/**
 * Turns pod events into workload statuses, each phase and readiness change of a workload once:
 * deduped by id, phase and readiness, so a re-list (which reports every pod again) emits only what
 * changed. A new feed (a new process) emits every workload's current state once; consumers compare
 * it with the store, so that is idempotent.
 */
export function statusFeed(emit: (s: WorkloadStatus) => void): { onEvent: PodWatcherOptions['onEvent']; pods(id: string): k8s.V1Pod[] } {
  const lastEmitted = new Map<string, string>();
  const byInstance = new Map<string, Map<string, k8s.V1Pod>>();
  return {
    pods: (id) => [...(byInstance.get(id)?.values() ?? [])],
    onEvent(type, pod) {
      const id = pod.metadata?.labels?.[INSTANCE];
      if (!id) return;
      const pods = byInstance.get(id) ?? new Map<string, k8s.V1Pod>();
      if (type === 'delete') pods.delete(pod.metadata?.name ?? '');
      else pods.set(pod.metadata?.name ?? '', pod);
      if (pods.size === 0) byInstance.delete(id);
      else byInstance.set(id, pods);
      const s = statusOfPods(id, [...pods.values()]);
      if (!s) {
        // Gone after it ended: a workload started again under this id is news again. Gone while
        // pending or running (an app's pod being replaced) is not an end: its next pod's 'pending'
        // after a 'pending' is no change.
        if (/^(succeeded|failed)\|/.test(lastEmitted.get(id) ?? '')) lastEmitted.delete(id);
        return;
      }
      const key = `${s.phase}|${s.ready ?? ''}`;
      if (lastEmitted.get(id) === key) return;
      lastEmitted.set(id, key);
      emit(s);
    },
  };
}
