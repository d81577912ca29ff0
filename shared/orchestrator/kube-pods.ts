import type * as k8s from '@kubernetes/client-node';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Workload, WorkloadStatus } from './port.js';

// Pure parts of the Kubernetes adapter: names, labels, the pod spec a workload becomes, and the
// status a workload's pods mean. kubernetes.ts does the API calls.

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const INSTANCE = 'app.kubernetes.io/instance';
export const NAME = 'app.kubernetes.io/name';
/** Set on a workload's pods (and Deployment) by stop(): the fact outlives this process, so every function sees "stopped". */
export const STOPPED = 'mlp/stopped';
/** The program the workload asked for (before rewriting), for the reason a failed start gives. */
export const PROGRAM = 'mlp/program';
/** Where the job folder (a workload's first writable path) is mounted; the rest of MLP_ROOT's paths go below MOUNT_ROOT. */
export const WORKSPACE = '/workspace';
export const MOUNT_ROOT = '/mlp';
/** Restarts of an app's container after which it counts as failed (crash-looping), as the local watcher's MAX_FAILURES. */
export const CRASH_LOOP_RESTARTS = 5;
/** The uid and gid pods run as (never root). */
export const POD_USER = 1000;
/** A workload's disk outside its volumes when the caller names none: 10 GiB, MLP_JOB_DISK's default. */
export const DEFAULT_DISK = 10737418240;
/** Where a workload gets a writable scratch folder: its root filesystem is read-only. */
export const SCRATCH = '/tmp';

export const objectName = (w: Pick<Workload, 'id' | 'kind'>) => `mlp-${w.kind}-${w.id}`;
/** An app's address through its Service (cluster DNS): no API call needed. */
export const serviceEndpoint = (namespace: string, id: string, port: number) => `${objectName({ kind: 'app', id })}.${namespace}.svc:${port}`;

/** A label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric. */
export function labelValue(v: string): string {
  return v
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

export function labelsOf(w: Pick<Workload, 'id' | 'kind' | 'labels'>): Record<string, string> {
  return {
    [MANAGED_BY]: 'mlp',
    'app.kubernetes.io/part-of': 'mlp',
    [NAME]: `mlp-${w.kind}`,
    [INSTANCE]: w.id,
    'mlp/user': labelValue(w.labels.user ?? ''),
    [`mlp/${w.kind}`]: labelValue(w.labels.name ?? ''),
  };
}

export interface Mount {
  host: string;
  pod: string;
  readOnly: boolean;
}

const under = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * The parts of MLP_ROOT a workload sees, and where: its first writable path (the job's or app's
 * folder) at /workspace, every other path at /mlp/<its path under MLP_ROOT>. A sandboxed workload
 * (a job) names them; one without (an app's server) gets its workdir writable and, read-only, the
 * MLP_ROOT paths its command and environment name (the model's folder). Paths outside MLP_ROOT
 * (the runtime's files) are in the image.
 */
export function mountsOf(w: Workload, root: string): Mount[] {
  const rootDir = path.resolve(root);
  const writable = w.sandbox ? w.sandbox.writable : [w.workdir];
  const named = w.sandbox ? w.sandbox.readOnly : [...w.command, ...Object.values(w.env)].filter((a) => path.isAbsolute(a) && !under(path.resolve(a), path.resolve(w.workdir)));
  const mounts: Mount[] = [];
  const add = (p: string, readOnly: boolean) => {
    const host = path.resolve(p);
    if (!under(host, rootDir) || host === rootDir || mounts.some((m) => m.host === host)) return;
    const pod = mounts.length === 0 && !readOnly ? WORKSPACE : path.posix.join(MOUNT_ROOT, path.relative(rootDir, host));
    mounts.push({ host, pod, readOnly });
  };
  for (const p of writable) add(p, false);
  for (const p of named) add(p, true);
  return mounts;
}

/**
 * Rewrites host paths in a command, env value or workdir to what the pod sees (the shared
 * convention): each mount's path to its mount point, the checkout (also as a file:// URL) to the
 * image's copy, process.execPath to `node`. One pass, longest match first, whole path segments only.
 */
export function pathRewriter(o: { mounts: Mount[]; checkout: string; imageRoot: string }): (s: string) => string {
  const checkout = path.resolve(o.checkout);
  const pairs = new Map<string, string>([
    [checkout, o.imageRoot],
    [pathToFileURL(checkout).href, pathToFileURL(o.imageRoot).href],
  ]);
  for (const m of o.mounts) pairs.set(m.host, m.pod);
  const keys = [...pairs.keys()].sort((a, b) => b.length - a.length);
  const re = new RegExp(`(${keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?=$|[^A-Za-z0-9._-])`, 'g');
  return (s) => (s === process.execPath ? 'node' : s.replace(re, (k) => pairs.get(k) ?? k));
}

export interface PodSpecOptions {
  image: string;
  claimName: string;
  root: string;
  checkout: string;
  imageRoot: string;
  /**
   * Bytes the workload may write outside the NFS volume (/tmp, its logs, the image's layer): its
   * ephemeral-storage request and limit, past which the kubelet evicts the pod. The job disk
   * bound (MLP_JOB_DISK) belongs here; a caller that passes none gets DEFAULT_DISK, its default.
   */
  disk?: number;
}

/** The pod a workload runs in: its command (output appended to its log file), env, resources, mounts, a read-only image, and no privileges. */
export function podSpecOf(w: Workload, o: PodSpecOptions): k8s.V1PodSpec {
  const mounts = mountsOf(w, o.root);
  const rewrite = pathRewriter({ mounts, checkout: o.checkout, imageRoot: o.imageRoot });
  // Requests = limits: a tenant's pod never uses more than the scheduler reserved for it, so one
  // tenant cannot take cpu, memory or node disk from another's pods by overcommitting.
  const limits: Record<string, string> = { cpu: String(w.resources.cpu), memory: `${w.resources.ram}Mi`, 'ephemeral-storage': String(o.disk ?? DEFAULT_DISK) };
  if (w.resources.gpu > 0) limits['nvidia.com/gpu'] = String(w.resources.gpu);
  return {
    restartPolicy: w.kind === 'job' ? 'Never' : 'Always',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // RuntimeDefault: the container runtime's syscall filter (unconfined otherwise on most clusters).
    securityContext: { runAsNonRoot: true, runAsUser: POD_USER, runAsGroup: POD_USER, fsGroup: POD_USER, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: w.kind === 'job' ? 'job' : 'server',
        image: o.image,
        // sh keeps the program's exit code (exec) and appends its output where the platform reads it (…/log?follow=1).
        command: ['sh', '-c', 'f=$1; shift; mkdir -p "${f%/*}"; exec "$@" >>"$f" 2>&1', 'sh', rewrite(w.logFile), ...w.command.map(rewrite)],
        workingDir: rewrite(w.workdir),
        env: Object.entries(w.env).map(([name, value]) => ({ name, value: rewrite(value) })),
        resources: { requests: limits, limits },
        volumeMounts: [...mounts.map((m) => ({ name: 'nfs', mountPath: m.pod, subPath: path.relative(path.resolve(o.root), m.host), readOnly: m.readOnly })), { name: 'scratch', mountPath: SCRATCH }],
        // The image stays as built: the workload writes to its NFS folders (its tenant's quota) and /tmp (its disk bound).
        securityContext: { allowPrivilegeEscalation: false, privileged: false, runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        ...(w.health
          ? {
              ports: [{ containerPort: w.health.port }],
              readinessProbe: { httpGet: { path: w.health.path, port: w.health.port }, periodSeconds: 2, failureThreshold: 1 },
            }
          : {}),
      },
    ],
    volumes: [...(mounts.length > 0 ? [{ name: 'nfs', persistentVolumeClaim: { claimName: o.claimName } }] : []), { name: 'scratch', emptyDir: {} }],
  };
}

const iso = (d: Date | string | undefined) => (d === undefined ? undefined : new Date(d).toISOString());
const terminal = (p: k8s.V1Pod) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
export const isTerminal = terminal;

/** Why a terminated container ended, in the local adapter's words. */
function endReason(t: k8s.V1ContainerStateTerminated, program: string | undefined): string {
  if (t.signal) return `killed by signal ${t.signal}`;
  // sh answers a program it cannot run with 127 (not found) or 126 (not executable).
  if ((t.exitCode === 127 || t.exitCode === 126) && program) return `could not start ${program} (exit code ${t.exitCode})`;
  return `exit code ${t.exitCode}`;
}

/**
 * What a workload's pods mean (null: it has none). A stopped workload is failed "stopped". A job's
 * pod maps phase to phase. An app's Deployment may hold several pods while it replaces one: a ready
 * pod makes it running and ready; one restarted CRASH_LOOP_RESTARTS times without being ready makes
 * it failed with the last termination's reason; pods only being replaced make it pending.
 */
export function statusOfPods(id: string, pods: k8s.V1Pod[]): WorkloadStatus | null {
  if (pods.length === 0) return null;
  const app = pods.some((p) => p.metadata?.labels?.[NAME] === 'mlp-app');
  const readiness = (ready: boolean) => (app ? { ready } : {});
  const container = (p: k8s.V1Pod) => p.status?.containerStatuses?.[0];
  const program = pods[0]?.metadata?.annotations?.[PROGRAM];
  const startedAt = (p: k8s.V1Pod) => iso(container(p)?.state?.running?.startedAt ?? container(p)?.state?.terminated?.startedAt ?? p.status?.startTime);
  const stopped = pods.find((p) => p.metadata?.annotations?.[STOPPED]);
  if (stopped) {
    const t = container(stopped)?.state?.terminated;
    return { id, phase: 'failed', reason: 'stopped', ...(t ? { exitCode: t.exitCode } : {}), finishedAt: iso(t?.finishedAt) ?? stopped.metadata?.annotations?.[STOPPED], ...readiness(false) };
  }
  if (!app) {
    const pod = pods[0]!;
    const s = pod.status;
    const t = container(pod)?.state?.terminated;
    const base = { id, ...(startedAt(pod) ? { startedAt: startedAt(pod) } : {}) };
    if (s?.phase === 'Running') return { ...base, phase: 'running' };
    if (s?.phase === 'Succeeded') return { ...base, phase: 'succeeded', exitCode: t?.exitCode ?? 0, finishedAt: iso(t?.finishedAt) };
    if (s?.phase === 'Failed') {
      const reason = t ? endReason(t, program) : s.reason ? `${s.reason}: ${s.message ?? ''}`.trim() : 'failed';
      return { ...base, phase: 'failed', ...(t ? { exitCode: t.exitCode } : {}), reason, finishedAt: iso(t?.finishedAt) };
    }
    return { ...base, phase: 'pending' };
  }
  const live = pods.filter((p) => !p.metadata?.deletionTimestamp);
  const ready = live.find((p) => p.status?.phase === 'Running' && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  if (ready) return { id, phase: 'running', startedAt: startedAt(ready), ready: true };
  const looping = live.find((p) => (container(p)?.restartCount ?? 0) >= CRASH_LOOP_RESTARTS);
  if (looping) {
    const c = container(looping);
    const t = c?.lastState?.terminated ?? c?.state?.terminated;
    return {
      id,
      phase: 'failed',
      ...(t ? { exitCode: t.exitCode } : {}),
      reason: `${t ? endReason(t, program) : 'repeated failures'}, restarted ${c?.restartCount} times`,
      finishedAt: iso(t?.finishedAt),
      ready: false,
    };
  }
  const running = live.find((p) => p.status?.phase === 'Running');
  if (running) return { id, phase: 'running', startedAt: startedAt(running), ready: false };
  // Pending, or between pods (the old one terminating, the next one not made yet): not ready, not failed.
  return { id, phase: 'pending' };
}
