import { checkEpochsDir } from '../../shared/apps/check-epochs.js';
import { APP_HOST, DATA_MOUNT, KAFKA_BROKERS, METRICS_TOPIC, NFS_CLAIM, NODE_PORTS } from './deploy-facts.js';
import { APP_CHECK_JS, appCheckHttpLines } from './nginx-app-check.js';
import { hardened, podSecurity } from './k8s-containment.js';

// The servers the functions stand on, as k8s/ runs them (scripts/gen/k8s.ts): MongoDB, Kafka and the Nginx gateway.

/** The Secret the operator creates (docs/deploy.md): Mongo's root user (username, password) and the URL the functions use (url). */
export const MONGO_SECRET = 'mlp-mongo-auth';

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

export function mongo(meta: Meta, labels: Labels) {
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

export function kafka(meta: Meta, labels: Labels) {
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
    // njs, for the app gateway's kept checks (nginx/mlp-app-check.js); the official image ships it
    // where Debian's nginx has it too (so tests check this very file).
    'load_module /usr/lib/nginx/modules/ngx_http_js_module.so;',
    'worker_processes auto;',
    'pid /tmp/nginx.pid;',
    'error_log /dev/stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    // Non-root: temp files in the pod's emptyDir.
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path /tmp/${t};`),
    ...appCheckHttpLines({ configDir: dir, epochsDir: checkEpochsDir(DATA_MOUNT), cacheDir: '/tmp/mlp-app-checks' }).map((line) => `    ${line}`),
    `    include ${dir}/mlp-routes.conf;`,
    `    include ${dir}/upstreams.k8s.conf;`,
    // Lines leave in 64 KiB writes, at most a second late, rather than one write per request.
    '    access_log /dev/stdout mlp_gateway buffer=64k flush=1s;',
    `    server { listen ${NODE_PORTS.gateway}; include ${dir}/mlp-server.conf; }`,
    `    server { listen ${NODE_PORTS.appGateway}; include ${dir}/mlp-apps-server.conf; }`,
    '}',
    '',
  ].join('\n');
}

export function gateway(meta: Meta, labels: Labels, nginx: Record<string, string>) {
  const name = 'mlp-gateway';
  const selector = labels(name);
  const dir = '/etc/mlp/nginx';
  const files = ['mlp-routes.conf', 'mlp-server.conf', 'mlp-apps-server.conf', APP_CHECK_JS, 'upstreams.k8s.conf'];
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
      // The NFS volume read-only, for the users' check epochs (shared/apps/check-epochs.ts), which the
      // functions write; a subPath would have the kubelet create that folder as root, unwritable to them.
      volumeMounts: [
        { name: 'config', mountPath: dir, readOnly: true },
        { name: 'mlp-data', mountPath: DATA_MOUNT, readOnly: true },
      ],
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
            volumes: [{ name: 'config', configMap: { name: `${name}-nginx` } }, { name: 'mlp-data', persistentVolumeClaim: { claimName: NFS_CLAIM, readOnly: true } }, ...pod.volumes],
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
