// The test kubelet stand-in: from a pod spec to what container.ts starts (command, env, mounts),
// reading Secrets and ConfigMaps through the real API server as the kubelet does.
import type * as k8s from '@kubernetes/client-node';
import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { ContainerPlan, Mount } from './container.js';

/** A pod the stand-in will not run: it ends Failed with this reason and message. */
export class PodRefused extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'PodRefused';
  }
}

/**
 * Files an image would hold: `dir` of the host at `at`, for every image whose name starts with
 * `prefix` (several may apply: a layer of one image inside another's folder, as a runtime image
 * adds its Python environment inside the platform's files); `env`: the image's own ENV, which
 * the pod's env overrides as a container runtime does.
 */
export interface ImageLayer {
  prefix: string;
  dir: string;
  at: string;
  env?: Record<string, string>;
}

export interface PlanContext {
  core: k8s.CoreV1Api;
  claims: Record<string, string>;
  images: ImageLayer[];
  /** Where this pod's emptyDir volumes live on the host (made on demand). */
  emptyDirRoot: string;
  nodeName: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The kubelet's $(VAR) expansion: known names are replaced, $$ escapes, unknown ones stay. */
export function expand(s: string, vars: Record<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name?: string) => {
    if (m === '$$') return '$';
    return name !== undefined && name in vars ? vars[name]! : m;
  });
}

const code = (err: unknown): number | undefined => (err as { code?: number }).code;

async function readKey(ctx: PlanContext, ns: string, kind: 'Secret' | 'ConfigMap', name: string, key: string | undefined, optional: boolean): Promise<Record<string, string> | undefined> {
  let data: Record<string, string> | undefined;
  try {
    if (kind === 'Secret') {
      const s = await ctx.core.readNamespacedSecret({ name, namespace: ns });
      data = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      Object.assign(data, s.stringData ?? {});
    } else {
      data = { ...((await ctx.core.readNamespacedConfigMap({ name, namespace: ns })).data ?? {}) };
    }
  } catch (err) {
    if (code(err) !== 404) throw err;
    if (optional) return undefined;
    throw new PodRefused('CreateContainerConfigError', `${kind.toLowerCase()} "${name}" not found`);
  }
  if (key !== undefined && !(key in data)) {
    if (optional) return undefined;
    throw new PodRefused('CreateContainerConfigError', `couldn't find key ${key} in ${kind} ${ns}/${name}`);
  }
  return data;
}

function fieldValue(pod: k8s.V1Pod, fieldPath: string, nodeName: string): string {
  const m = pod.metadata ?? {};
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (sub) return (sub[1] === 'labels' ? m.labels : m.annotations)?.[sub[2]!] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return m.name ?? '';
    case 'metadata.namespace':
      return m.namespace ?? '';
    case 'metadata.uid':
      return m.uid ?? '';
    case 'spec.nodeName':
      return nodeName;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
    case 'status.hostIP':
      return '127.0.0.1';
    default:
      throw new PodRefused('CreateContainerConfigError', `the kubelet stand-in does not support fieldRef ${fieldPath}`);
  }
}

async function envOf(ctx: PlanContext, pod: k8s.V1Pod, c: k8s.V1Container): Promise<Record<string, string>> {
  const ns = pod.metadata?.namespace ?? 'default';
  const imageEnv = Object.assign({}, ...layersOf(ctx, c).map((l) => l.env ?? {})) as Record<string, string>;
  const env: Record<string, string> = { PATH: DEFAULT_PATH, ...imageEnv, HOSTNAME: pod.metadata?.name ?? '', HOME: '/root' };
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const data = await readKey(ctx, ns, from.configMapRef ? 'ConfigMap' : 'Secret', ref.name ?? '', undefined, ref.optional ?? false);
    for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of c.env ?? []) {
    const vf = e.valueFrom;
    if (!vf) {
      env[e.name] = expand(e.value ?? '', env);
    } else if (vf.secretKeyRef || vf.configMapKeyRef) {
      const ref = (vf.secretKeyRef ?? vf.configMapKeyRef)!;
      const data = await readKey(ctx, ns, vf.secretKeyRef ? 'Secret' : 'ConfigMap', ref.name ?? '', ref.key, ref.optional ?? false);
      if (data) env[e.name] = data[ref.key]!;
    } else if (vf.fieldRef) {
      env[e.name] = fieldValue(pod, vf.fieldRef.fieldPath, ctx.nodeName);
    } else {
      throw new PodRefused('CreateContainerConfigError', `the kubelet stand-in does not support env ${e.name}'s valueFrom ${Object.keys(vf).join(', ')}`);
    }
  }
  return env;
}

/**
 * An image's files: its folder, and what a link at its top level leads to (a checkout in a git
 * worktree whose node_modules links to another's), at its own path so the link resolves inside
 * the container as on the host (bubblewrap cannot mount onto a link in a read-only folder).
 */
function imageMounts(dir: string, at: string): Mount[] {
  const links = readdirSync(dir).filter((name) => lstatSync(path.join(dir, name)).isSymbolicLink() && existsSync(path.join(dir, name)));
  return [{ host: dir, at, readOnly: true }, ...links.map((name) => realpathSync(path.join(dir, name))).map((real) => ({ host: real, at: real, readOnly: true }))];
}

const layersOf = (ctx: PlanContext, c: k8s.V1Container): ImageLayer[] => ctx.images.filter((i) => (c.image ?? '').startsWith(i.prefix));
const inside = (p: string, folder: string) => p.startsWith(`${folder}/`);

/**
 * The mounts of an image's layers. A layer that another lands inside becomes a read-only tmpfs
 * holding each of its entries (bubblewrap cannot make a mount point in a read-only folder), the
 * inner layer's name left to the inner layer.
 */
function layerMounts(layers: ImageLayer[]): Mount[] {
  return layers.flatMap((layer) => {
    const inner = layers.filter((l) => inside(l.at, layer.at)).map((l) => l.at.slice(layer.at.length + 1).split('/')[0]);
    if (inner.length === 0) return imageMounts(layer.dir, layer.at);
    const entries = readdirSync(layer.dir).filter((name) => !inner.includes(name));
    const links = imageMounts(layer.dir, layer.at).slice(1);
    return [{ host: '', at: layer.at, readOnly: true, tmpfs: true }, ...entries.map((name) => ({ host: path.join(layer.dir, name), at: path.join(layer.at, name), readOnly: true })), ...links];
  });
}

function mountsOf(ctx: PlanContext, pod: k8s.V1Pod, c: k8s.V1Container): Mount[] {
  const mounts: Mount[] = layerMounts(layersOf(ctx, c));
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  for (const vm of c.volumeMounts ?? []) {
    const v = volumes.get(vm.name);
    if (!v) throw new PodRefused('CreateContainerConfigError', `volumeMount ${vm.name} names no volume of the pod`);
    let base: string;
    if (v.persistentVolumeClaim) {
      const claim = v.persistentVolumeClaim.claimName;
      const dir = ctx.claims[claim];
      if (!dir) throw new PodRefused('FailedMount', `the kubelet stand-in has no folder for PersistentVolumeClaim "${claim}" (volume ${v.name})`);
      base = dir;
    } else if (v.emptyDir) {
      base = path.join(ctx.emptyDirRoot, v.name);
      mkdirSync(base, { recursive: true });
    } else {
      const kind = Object.keys(v).find((k) => k !== 'name') ?? 'unknown';
      throw new PodRefused('FailedMount', `the kubelet stand-in does not support volume ${v.name} of kind ${kind}`);
    }
    const sub = vm.subPath ?? '';
    if (path.isAbsolute(sub) || sub.split('/').includes('..')) {
      throw new PodRefused('CreateContainerConfigError', `subPath ${JSON.stringify(sub)} of volumeMount ${vm.name} must be relative, without ..`);
    }
    const host = path.join(base, sub);
    // As the kubelet does, a missing subPath is made as a folder in the volume.
    if (sub && !existsSync(host)) mkdirSync(host, { recursive: true });
    if (!path.isAbsolute(vm.mountPath)) throw new PodRefused('CreateContainerConfigError', `mountPath ${vm.mountPath} is not absolute`);
    mounts.push({ host, at: path.normalize(vm.mountPath), readOnly: vm.readOnly ?? false });
  }
  return mounts;
}

/** The plan for the pod's only container; refuses what the stand-in cannot run faithfully. */
export async function planPod(ctx: PlanContext, pod: k8s.V1Pod): Promise<ContainerPlan> {
  const spec = pod.spec;
  const containers = spec?.containers ?? [];
  if (containers.length !== 1 || (spec?.initContainers ?? []).length > 0) {
    throw new PodRefused(
      'UnsupportedPod',
      `the kubelet stand-in runs pods of exactly one container and no init containers; this one has ${containers.length} and ${(spec?.initContainers ?? []).length} init`,
    );
  }
  const c = containers[0]!;
  if (!c.command?.length) {
    throw new PodRefused('CreateContainerConfigError', `container ${c.name} has no command: the kubelet stand-in has no image entrypoints`);
  }
  const env = await envOf(ctx, pod, c);
  const argv = [...c.command, ...(c.args ?? [])].map((a) => expand(a, env));
  const sc = { ...spec?.securityContext, ...c.securityContext } as { runAsUser?: number; runAsGroup?: number };
  return {
    argv,
    env,
    workingDir: c.workingDir ? path.normalize(c.workingDir) : undefined,
    mounts: mountsOf(ctx, pod, c),
    hostname: pod.metadata?.name ?? 'pod',
    uid: sc.runAsUser ?? 0,
    gid: sc.runAsGroup ?? 0,
  };
}
