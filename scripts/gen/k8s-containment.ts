import { MANAGED_BY, NAME } from '../../shared/orchestrator/kube-pods.js';
import { PORT_MAX, PORT_MIN } from '../../shared/records/apps.js';
import type { RouteDef } from '../../shared/routes/route.js';
import { NAMESPACE, NODE_PORTS } from './deploy-facts.js';

/**
 * What keeps a tenant's pod in its place on the cluster (k8s/05-containment.yaml): NetworkPolicies
 * that deny everything not listed, a LimitRange, and the pod and container security contexts every
 * generated pod uses. Tenants are hostile: a job pod runs someone else's code, an app pod a model
 * server for someone's model; neither must reach the stores, the functions or each other.
 */

export const PART_OF = { 'app.kubernetes.io/part-of': 'mlp' };
export const platformLabels = (name: string): Record<string, string> => ({ ...PART_OF, 'app.kubernetes.io/name': name });

/** Pod level: never root, and the runtime's syscall filter (most clusters run pods unconfined otherwise). */
export function podSecurity(uid: number): Record<string, unknown> {
  return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } };
}

/** Every generated container: no privilege, no capability, the image as built (writes go to volumes). */
export const CONTAINER_SECURITY = {
  runAsNonRoot: true,
  privileged: false,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

/**
 * A container as every generated pod has it: CONTAINER_SECURITY, and for each folder it must write
 * outside its volumes (name -> path) an emptyDir, which counts towards its ephemeral storage.
 */
export function hardened(container: Record<string, unknown> & { volumeMounts?: unknown[] }, writable: Record<string, string>) {
  const names = Object.keys(writable);
  const mounts = names.map((name) => ({ name, mountPath: writable[name] }));
  return {
    volumes: names.map((name) => ({ name, emptyDir: {} })),
    container: { ...container, securityContext: CONTAINER_SECURITY, volumeMounts: [...(container.volumeMounts ?? []), ...mounts] },
  };
}

/**
 * Pod Security Admission on the namespace: privileged pods (host namespaces, hostPath, added
 * capabilities) are refused whoever creates them; anything short of restricted is reported. The
 * functions' Knative manifests do not meet restricted, so it is not enforced.
 */
export const POD_SECURITY_ADMISSION = {
  'pod-security.kubernetes.io/enforce': 'baseline',
  'pod-security.kubernetes.io/warn': 'restricted',
  'pod-security.kubernetes.io/audit': 'restricted',
};

/**
 * Defaults for a container that names no resources (the functions, Knative's queue-proxy): requests
 * = limits, so nothing in the namespace runs on capacity the scheduler did not reserve. Workload
 * pods set their own (the job's or app's request, and its disk).
 */
export const CONTAINER_DEFAULTS = { cpu: '500m', memory: '512Mi', 'ephemeral-storage': '1Gi' };

export function limitRange(): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'LimitRange',
    metadata: { name: 'mlp-defaults', namespace: NAMESPACE, labels: platformLabels('mlp-defaults') },
    spec: { limits: [{ type: 'Container', default: CONTAINER_DEFAULTS, defaultRequest: CONTAINER_DEFAULTS }] },
  };
}

// Who is who, by the labels the pods carry. Job and app pods get theirs from the orchestrator
// (labelsOf in the Kubernetes adapter); a tenant chooses neither keys nor these values.
const JOB_PODS = { [MANAGED_BY]: 'mlp', [NAME]: 'mlp-job' };
const APP_PODS = { [MANAGED_BY]: 'mlp', [NAME]: 'mlp-app' };
/** Knative labels every pod of a Knative Service with its name; nothing else in the namespace has it. */
export const KNATIVE_SERVICE = 'serving.knative.dev/service';
/** Knative Serving's activator and autoscaler, and its networking layer (Kourier's; net-istio uses istio-system). */
export const KNATIVE_NAMESPACES = ['knative-serving', 'kourier-system'];
/** The kube-apiserver is no pod: its address depends on the cluster. Narrow this to it where known. */
export const API_SERVER_CIDR = '0.0.0.0/0';
/** The function that calls an app's model server itself (the UI's "try predict"), besides the app gateway. */
export const APP_CALLER = 'web-app-predict';

const pods = (matchLabels: Record<string, string>) => ({ podSelector: { matchLabels } });
const functionsNamed = (names: string[]) => ({ podSelector: { matchExpressions: [{ key: KNATIVE_SERVICE, operator: 'In', values: names.map((n) => `mlp-${n}`) }] } });
const GATEWAY = pods(platformLabels('mlp-gateway'));
const MONGO = pods(platformLabels('mlp-mongo'));
const KAFKA = pods(platformLabels('mlp-kafka'));
const TOPICS = pods(platformLabels('mlp-kafka-topics'));
const FUNCTIONS = { podSelector: { matchExpressions: [{ key: KNATIVE_SERVICE, operator: 'Exists' }] } };
const KNATIVE = { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: KNATIVE_NAMESPACES }] } };
const tcp = (...ports: number[]) => ports.map((port) => ({ protocol: 'TCP', port }));
const APP_PORTS = [{ protocol: 'TCP', port: PORT_MIN, endPort: PORT_MAX }];
/** Cluster DNS (CoreDNS or kube-dns, both labelled k8s-app=kube-dns): the pods that resolve service names need it. */
const DNS = {
  to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
  ports: [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ],
};

function policy(name: string, podSelector: Record<string, unknown>, rules: { ingress?: unknown[]; egress?: unknown[] }): Record<string, unknown> {
  // A policyType without rules denies that direction for the pods it selects.
  const types = (['Ingress', 'Egress'] as const).filter((t) => rules[t === 'Ingress' ? 'ingress' : 'egress'] !== undefined);
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: NAMESPACE, labels: platformLabels(name) },
    spec: { podSelector, policyTypes: types, ...rules },
  };
}

/** The namespace's NetworkPolicies. Policies add up: a pod may do what any policy selecting it allows. */
export function networkPolicies(routes: RouteDef[]): Record<string, unknown>[] {
  if (!routes.some((r) => r.name === APP_CALLER)) throw new Error(`k8s policies: no function ${APP_CALLER} (the one allowed to reach app pods)`);
  const orchestrators = routes.filter((r) => r.orchestrator).map((r) => r.name);
  return [
    // Everything in the namespace, both ways: what is not allowed below is refused.
    policy('mlp-default-deny', {}, { ingress: [], egress: [] }),
    // A job reaches the platform only through the API gateway (its MLP_API); DNS so that name resolves.
    policy('mlp-jobs', { matchLabels: JOB_PODS }, { ingress: [], egress: [{ to: [GATEWAY], ports: tcp(NODE_PORTS.gateway) }, DNS] }),
    // An app is called by the app gateway and the predict function (both check the owner's token
    // first), on the app port range; it calls nothing.
    policy('mlp-apps', { matchLabels: APP_PODS }, { ingress: [{ from: [GATEWAY, functionsNamed([APP_CALLER])], ports: APP_PORTS }], egress: [] }),
    // The gateway is the way in, from anywhere (NodePorts, ingress controller, jobs); it goes to the
    // functions (through Knative's layer) and to apps, and resolves their names.
    policy('mlp-gateway', GATEWAY.podSelector, {
      ingress: [{ ports: tcp(NODE_PORTS.gateway, NODE_PORTS.appGateway) }],
      egress: [DNS, { to: [FUNCTIONS, KNATIVE] }, { to: [pods(APP_PODS)], ports: APP_PORTS }],
    }),
    // Functions are reached through the gateway and Knative (activator, autoscaler, its ingress),
    // and call the stores, the gateway (internal routes) and each other.
    policy('mlp-functions', FUNCTIONS.podSelector, {
      ingress: [{ from: [GATEWAY, FUNCTIONS, KNATIVE] }],
      egress: [DNS, { to: [MONGO], ports: tcp(27017) }, { to: [KAFKA], ports: tcp(9092) }, { to: [GATEWAY], ports: tcp(NODE_PORTS.gateway) }, { to: [FUNCTIONS, KNATIVE] }],
    }),
    // Only the orchestrator's functions talk to the kube-apiserver (443, or 6443 behind the kubernetes Service).
    policy('mlp-orchestrator-api', functionsNamed(orchestrators).podSelector, { egress: [{ to: [{ ipBlock: { cidr: API_SERVER_CIDR } }], ports: tcp(443, 6443) }] }),
    policy('mlp-app-caller', functionsNamed([APP_CALLER]).podSelector, { egress: [{ to: [pods(APP_PODS)], ports: APP_PORTS }] }),
    // The stores answer the functions only (Kafka also its own topic Job and itself); never a job or an app.
    policy('mlp-mongo', MONGO.podSelector, { ingress: [{ from: [FUNCTIONS], ports: tcp(27017) }], egress: [] }),
    policy('mlp-kafka', KAFKA.podSelector, {
      ingress: [{ from: [FUNCTIONS, TOPICS, KAFKA], ports: tcp(9092) }],
      egress: [DNS, { to: [KAFKA], ports: tcp(9092, 9093) }],
    }),
    policy('mlp-kafka-topics', TOPICS.podSelector, { ingress: [], egress: [DNS, { to: [KAFKA], ports: tcp(9092) }] }),
  ];
}
