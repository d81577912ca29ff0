import { stringify } from 'yaml';
import type { RouteDef } from '../../shared/routes/route.js';
import {
  APP_HOST,
  IMAGE_ROOT,
  JOB_IMAGE,
  KAFKA_BROKERS,
  METRICS_TOPIC,
  MODEL_SERVER_IMAGE,
  MONGO_URL,
  NAMESPACE,
  NFS_CLAIM,
  NODE_PORTS,
  ORCHESTRATOR_ACCOUNT,
  SHARED_ENV,
  TORCH_IMAGE,
} from './deploy-facts.js';
import { PART_OF, POD_SECURITY_ADMISSION, limitRange, networkPolicies, platformLabels } from './k8s-containment.js';
import { gateway, kafka, MONGO_SECRET, mongo } from './k8s-servers.js';

/**
 * k8s/: what the functions stand on (kubectl apply -f k8s/ before knative/). Files are numbered
 * so a directory apply creates the Namespace first. Everything is in namespace mlp; NodePorts are
 * the design's (docs/deploy.md). The example NFS PersistentVolume sits in k8s/examples/, which a
 * plain `kubectl apply -f k8s/` (not recursive) leaves out: it must be edited first.
 */
export function renderK8s(routes: RouteDef[], nginx: Record<string, string>): Record<string, string> {
  const labels = platformLabels;
  const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: NAMESPACE, labels: labels(name), ...extra });
  return {
    'k8s/00-namespace.yaml': file('the namespace of every MLP object (functions, stores, workloads)', [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE, labels: { ...PART_OF, ...POD_SECURITY_ADMISSION } } },
    ]),
    'k8s/05-containment.yaml': file(
      'what keeps tenants in their place: defaults so every container has requests = limits, and NetworkPolicies that deny all traffic but what the platform needs (job pods reach only the gateway, app pods are reached only by it, the stores only by the functions); they need a CNI that enforces NetworkPolicy (docs/deploy.md)',
      [limitRange(), ...networkPolicies(routes)],
    ),
    'k8s/10-config.yaml': file(
      `the non-secret configuration of the functions: each takes, key by key (knative/*.yaml), the settings it reads, those of the ports its route uses included. MLP_MONGO_URL here is Mongo's address without credentials: MongoDB requires them, and the functions take the URL with them from the Secret ${MONGO_SECRET} (key url). The secrets are created by hand (docs/deploy.md)`,
      [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('mlp-config'), data: sharedConfig() }],
    ),
    'k8s/10-rbac.yaml': file(
      `least privilege for the functions that call the orchestrator (${routes
        .filter((r) => r.orchestrator)
        .map((r) => r.name)
        .join(', ')}): exactly the verbs the Kubernetes orchestrator uses, in this namespace only; every other function runs with no token`,
      rbac(),
    ),
    'k8s/20-nfs-claim.yaml': file(
      `the shared NFS volume: its root is MLP_ROOT for every function and workload. It binds the PersistentVolume named ${NFS_CLAIM} (edit and apply k8s/examples/nfs-pv.yaml first), or set storageClassName to an NFS provisioner's class and drop volumeName`,
      [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: meta(NFS_CLAIM),
          spec: { accessModes: ['ReadWriteMany'], storageClassName: '', volumeName: NFS_CLAIM, resources: { requests: { storage: '100Gi' } } },
        },
      ],
    ),
    'k8s/examples/nfs-pv.yaml': file(
      "EXAMPLE, edit before applying: server and path are placeholders for your NFS export (writable by uid 1000, the images' user). Cluster-scoped; the claim mlp-nfs binds it by name",
      [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: NFS_CLAIM, labels: { 'app.kubernetes.io/part-of': 'mlp' } },
          spec: {
            capacity: { storage: '100Gi' },
            accessModes: ['ReadWriteMany'],
            persistentVolumeReclaimPolicy: 'Retain',
            storageClassName: '',
            mountOptions: ['nfsvers=4.1', 'hard'],
            nfs: { server: 'nfs.example.internal', path: '/export/mlp' },
            claimRef: { namespace: NAMESPACE, name: NFS_CLAIM },
          },
        },
      ],
    ),
    'k8s/30-mongo.yaml': file(
      `MongoDB, single member, with SCRAM authentication: its root user comes from the Secret ${MONGO_SECRET} on first start (empty volume). mlp-mongo-nodeport is the design's port ${NODE_PORTS.mongo}: the NetworkPolicy mlp-mongo admits the functions only, but traffic a NodePort rewrites to the node's address may pass it (up to the CNI); delete that Service unless an operator needs it`,
      mongo(meta, labels),
    ),
    'k8s/30-kafka.yaml': file(
      `Kafka, one KRaft node (broker and controller), without authentication, and a Job creating the metrics topic. mlp-kafka-nodeport is the design's port ${NODE_PORTS.kafka} (the EXTERNAL listener, advertised as the node's IP): the NetworkPolicy mlp-kafka admits the functions only, but traffic a NodePort rewrites to the node's address may pass it (up to the CNI); delete that Service if nothing outside the cluster publishes`,
      kafka(meta, labels),
    ),
    'k8s/40-gateway.yaml': file(
      `the Nginx gateway: the generated nginx/*.conf with the cluster upstreams, the API on ${NODE_PORTS.gateway} and the app gateway on ${NODE_PORTS.appGateway} (NodePorts of the same numbers), and an Ingress to it`,
      gateway(meta, labels, nginx),
    ),
  };
}

/** SHARED_ENV's values in the cluster; '' keeps the platform's default (shared/config/load.ts). */
function sharedConfig(): Record<string, string> {
  const values: Record<string, string> = {
    MLP_MONGO_URL: MONGO_URL,
    MLP_KAFKA_BROKERS: KAFKA_BROKERS,
    MLP_ORCHESTRATOR: 'kubernetes',
    MLP_PUBLIC_URL: `http://mlp-gateway.${NAMESPACE}.svc.cluster.local:${NODE_PORTS.gateway}`,
    // What clients are told to call (App.endpoint): the Ingress's host for the app gateway.
    MLP_APP_URL: `http://${APP_HOST}`,
    MLP_METRICS_TOPIC: METRICS_TOPIC,
    MLP_KUBE_NAMESPACE: NAMESPACE,
    MLP_KUBE_JOB_IMAGE: JOB_IMAGE,
    MLP_KUBE_TORCH_IMAGE: TORCH_IMAGE,
    MLP_KUBE_MODEL_SERVER_IMAGE: MODEL_SERVER_IMAGE,
    MLP_KUBE_CLAIM: NFS_CLAIM,
    MLP_KUBE_IMAGE_ROOT: IMAGE_ROOT,
    MLP_KUBE_ENDPOINT: 'service',
  };
  return Object.fromEntries(SHARED_ENV.map((name) => [name, values[name] ?? '']));
}

/** The orchestrator's verbs, exactly (the Kubernetes conventions); nothing on secrets, configmaps, exec or logs. */
export const ORCHESTRATOR_RULES = [
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'deletecollection', 'patch'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch'] },
  { apiGroups: [''], resources: ['services'], verbs: ['get', 'list', 'create', 'delete'] },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses'], verbs: ['get', 'list', 'create', 'delete'] },
];

function rbac() {
  const metadata = { name: ORCHESTRATOR_ACCOUNT, namespace: NAMESPACE, labels: { 'app.kubernetes.io/part-of': 'mlp' } };
  return [
    // The functions mount its token themselves (knative/*.yaml serviceAccountName); nothing else should.
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata, automountServiceAccountToken: true },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata, rules: ORCHESTRATOR_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ORCHESTRATOR_ACCOUNT },
      subjects: [{ kind: 'ServiceAccount', name: ORCHESTRATOR_ACCOUNT, namespace: NAMESPACE }],
    },
  ];
}

function file(what: string, docs: unknown[]): string {
  // Shared objects written out each time: a reader of a policy sees its peers, not YAML anchors.
  return `# Generated by npm run gen from scripts/gen/k8s.ts — do not edit.\n# ${what}.\n${docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')}`;
}
