import { stringify } from 'yaml';
import type { RouteDef } from '../../shared/route.js';
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
import { PART_OF, POD_SECURITY_ADMISSION, hardened, limitRange, networkPolicies, platformLabels, podSecurity } from './k8s-containment.js';

/** The Secret the operator creates (docs/deploy.md): Mongo's root user (username, password) and the URL the functions use (url). */
const MONGO_SECRET = 'mlp-mongo-auth';

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
      `the non-secret configuration every function gets (envFrom in knative/*.yaml). MLP_MONGO_URL here is Mongo's address without credentials: MongoDB requires them, and the functions take the URL with them from the Secret ${MONGO_SECRET} (key url). The secrets are created by hand (docs/deploy.md)`,
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

/** SHARED_ENV's values in the cluster; '' keeps the platform's default (shared/config.ts). */
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

type Meta = (name: string, extra?: Record<string, unknown>) => Record<string, unknown>;
type Labels = (name: string) => Record<string, string>;

// Stores and gateway run as their images' own non-root users, with no API token.
const podBasics = { automountServiceAccountToken: false, enableServiceLinks: false };

/** A one-replica StatefulSet with its own ReadWriteOnce data volume, running as the image's non-root uid. */
function statefulSet(metadata: Record<string, unknown>, selector: Record<string, string>, uid: number, pod: { container: Record<string, unknown>; volumes: unknown[] }) {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata,
    spec: {
      serviceName: metadata.name,
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: selector },
        spec: { ...podBasics, securityContext: podSecurity(uid), containers: [pod.container], volumes: pod.volumes },
      },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '10Gi' } } } }],
    },
  };
}

function mongo(meta: Meta, labels: Labels) {
  const name = 'mlp-mongo';
  const selector = labels(name);
  return [
    // Headless: the StatefulSet's stable name; functions use mlp-mongo.mlp.svc (MLP_MONGO_URL).
    { apiVersion: 'v1', kind: 'Service', metadata: meta(name), spec: { clusterIP: 'None', selector, ports: [{ name: 'mongo', port: 27017, targetPort: 27017 }] } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${name}-nodeport`),
      spec: { type: 'NodePort', selector, ports: [{ name: 'mongo', port: 27017, targetPort: 27017, nodePort: NODE_PORTS.mongo }] },
    },
    statefulSet(
      meta(name),
      selector,
      999,
      hardened(
        {
          name: 'mongo',
          image: 'mongo:7.0.14',
          // --auth explicitly: the image's entrypoint would add it given a root user, and without the
          // Secret the pod does not start at all rather than run open.
          args: ['--bind_ip_all', '--auth'],
          // The image's entrypoint creates this root user when the volume is empty (and only then).
          env: [
            { name: 'MONGO_INITDB_ROOT_USERNAME', valueFrom: { secretKeyRef: { name: MONGO_SECRET, key: 'username' } } },
            { name: 'MONGO_INITDB_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: MONGO_SECRET, key: 'password' } } },
          ],
          ports: [{ name: 'mongo', containerPort: 27017 }],
          // The pod's address answers once the final mongod runs (the first-start one listens on 127.0.0.1 only).
          readinessProbe: { tcpSocket: { port: 27017 }, periodSeconds: 10 },
          resources: { requests: { cpu: '250m', memory: '512Mi', 'ephemeral-storage': '1Gi' }, limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '1Gi' } },
          volumeMounts: [{ name: 'data', mountPath: '/data/db' }],
        },
        { tmp: '/tmp' },
      ),
    ),
  ];
}

function kafka(meta: Meta, labels: Labels) {
  const name = 'mlp-kafka';
  const selector = labels(name);
  const image = 'apache/kafka:3.9.1';
  const topics = hardened(
    {
      name: 'topics',
      image,
      command: ['/opt/kafka/bin/kafka-topics.sh', '--bootstrap-server', KAFKA_BROKERS, '--create', '--if-not-exists', '--topic', METRICS_TOPIC, '--partitions', '3', '--replication-factor', '1'],
      resources: { requests: { cpu: '100m', memory: '512Mi', 'ephemeral-storage': '256Mi' }, limits: { cpu: '1', memory: '512Mi', 'ephemeral-storage': '256Mi' } },
    },
    { logs: '/opt/kafka/logs', tmp: '/tmp' },
  );
  return [
    { apiVersion: 'v1', kind: 'Service', metadata: meta(name), spec: { clusterIP: 'None', selector, ports: [{ name: 'broker', port: 9092, targetPort: 9092 }] } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(`${name}-nodeport`),
      spec: { type: 'NodePort', selector, ports: [{ name: 'external', port: 9094, targetPort: 9094, nodePort: NODE_PORTS.kafka }] },
    },
    // The image's entrypoint writes server.properties and log4j files into /opt/kafka/config, and
    // Kafka's scripts their logs into /opt/kafka/logs; the JVM its perf data into /tmp.
    statefulSet(
      meta(name),
      selector,
      1000,
      hardened(
        {
          name: 'kafka',
          image,
          // The apache/kafka image turns KAFKA_* variables into server.properties.
          env: [
            { name: 'NODE_IP', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
            { name: 'CLUSTER_ID', value: 'bWxwLWthZmthLWNsdXN0cg' },
            { name: 'KAFKA_NODE_ID', value: '1' },
            { name: 'KAFKA_PROCESS_ROLES', value: 'broker,controller' },
            { name: 'KAFKA_CONTROLLER_QUORUM_VOTERS', value: '1@localhost:9093' },
            { name: 'KAFKA_LISTENERS', value: 'PLAINTEXT://:9092,CONTROLLER://:9093,EXTERNAL://:9094' },
            { name: 'KAFKA_ADVERTISED_LISTENERS', value: `PLAINTEXT://${KAFKA_BROKERS},EXTERNAL://$(NODE_IP):${NODE_PORTS.kafka}` },
            { name: 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP', value: 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT' },
            { name: 'KAFKA_CONTROLLER_LISTENER_NAMES', value: 'CONTROLLER' },
            { name: 'KAFKA_INTER_BROKER_LISTENER_NAME', value: 'PLAINTEXT' },
            { name: 'KAFKA_LOG_DIRS', value: '/var/lib/kafka/data' },
            { name: 'KAFKA_NUM_PARTITIONS', value: '3' },
            { name: 'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR', value: '1' },
            { name: 'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR', value: '1' },
            { name: 'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR', value: '1' },
          ],
          ports: [
            { name: 'broker', containerPort: 9092 },
            { name: 'controller', containerPort: 9093 },
            { name: 'external', containerPort: 9094 },
          ],
          readinessProbe: { tcpSocket: { port: 9092 }, periodSeconds: 10 },
          resources: { requests: { cpu: '250m', memory: '1Gi', 'ephemeral-storage': '2Gi' }, limits: { cpu: '2', memory: '2Gi', 'ephemeral-storage': '2Gi' } },
          volumeMounts: [{ name: 'data', mountPath: '/var/lib/kafka/data' }],
        },
        { config: '/opt/kafka/config', logs: '/opt/kafka/logs', tmp: '/tmp' },
      ),
    ),
    {
      // The metrics relay also creates the topic when it is missing; this makes its partitions explicit.
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: meta(`${name}-topics`),
      spec: {
        backoffLimit: 20,
        template: {
          metadata: { labels: labels(`${name}-topics`) },
          spec: { ...podBasics, restartPolicy: 'OnFailure', securityContext: podSecurity(1000), containers: [topics.container], volumes: topics.volumes },
        },
      },
    },
  ];
}

/** nginx.conf of the gateway pod: the generated files at http level, then the two servers (docs/deploy.md). */
function nginxMain(dir: string): string {
  return [
    'worker_processes auto;',
    'pid /tmp/nginx.pid;',
    'error_log /dev/stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    // Non-root: temp files in the pod's emptyDir.
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path /tmp/${t};`),
    `    include ${dir}/mlp-routes.conf;`,
    `    include ${dir}/upstreams.k8s.conf;`,
    '    access_log /dev/stdout mlp_gateway;',
    `    server { listen ${NODE_PORTS.gateway}; include ${dir}/mlp-server.conf; }`,
    `    server { listen ${NODE_PORTS.appGateway}; include ${dir}/mlp-apps-server.conf; }`,
    '}',
    '',
  ].join('\n');
}

function gateway(meta: Meta, labels: Labels, nginx: Record<string, string>) {
  const name = 'mlp-gateway';
  const selector = labels(name);
  const dir = '/etc/mlp/nginx';
  const files = ['mlp-routes.conf', 'mlp-server.conf', 'mlp-apps-server.conf', 'upstreams.k8s.conf'];
  const data: Record<string, string> = { 'nginx.conf': nginxMain(dir) };
  // nginx writes its pid and temp files to /tmp (nginx.conf); responses it buffers may spill there.
  const pod = hardened(
    {
      name: 'nginx',
      // The official image has auth_request, which both servers use.
      image: 'nginx:1.27.5-alpine',
      command: ['nginx', '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'],
      ports: [
        { name: 'api', containerPort: NODE_PORTS.gateway },
        { name: 'apps', containerPort: NODE_PORTS.appGateway },
      ],
      readinessProbe: { tcpSocket: { port: NODE_PORTS.gateway }, periodSeconds: 5 },
      resources: { requests: { cpu: '100m', memory: '64Mi', 'ephemeral-storage': '2Gi' }, limits: { cpu: '2', memory: '256Mi', 'ephemeral-storage': '2Gi' } },
      volumeMounts: [{ name: 'config', mountPath: dir, readOnly: true }],
    },
    { tmp: '/tmp' },
  );
  for (const f of files) {
    const text = nginx[`nginx/${f}`];
    if (text === undefined) throw new Error(`k8s gateway: nginx/${f} was not generated`);
    data[f] = text;
  }
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(`${name}-nginx`), data },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(name),
      spec: {
        replicas: 2,
        selector: { matchLabels: selector },
        template: {
          // A new config is a new ConfigMap content: roll the pods with `kubectl rollout restart`.
          metadata: { labels: selector },
          spec: {
            ...podBasics,
            securityContext: podSecurity(101),
            containers: [pod.container],
            volumes: [{ name: 'config', configMap: { name: `${name}-nginx` } }, ...pod.volumes],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(name),
      spec: {
        type: 'NodePort',
        selector,
        ports: [
          { name: 'api', port: NODE_PORTS.gateway, targetPort: NODE_PORTS.gateway, nodePort: NODE_PORTS.gateway },
          { name: 'apps', port: NODE_PORTS.appGateway, targetPort: NODE_PORTS.appGateway, nodePort: NODE_PORTS.appGateway },
        ],
      },
    },
    {
      // The cluster's default ingress class; APP_HOST is a placeholder for the app gateway's host name.
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: meta(name, { annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '0', 'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600' } }),
      spec: {
        defaultBackend: { service: { name, port: { name: 'api' } } },
        rules: [{ host: APP_HOST, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name, port: { name: 'apps' } } } }] } }],
      },
    },
  ];
}

function file(what: string, docs: unknown[]): string {
  // Shared objects written out each time: a reader of a policy sees its peers, not YAML anchors.
  return `# Generated by npm run gen from scripts/gen/k8s.ts — do not edit.\n# ${what}.\n${docs.map((d) => stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')}`;
}
