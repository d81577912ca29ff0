/**
 * The declaration of every MLP_* setting (SETTINGS): what loadConfig (shared/config/load.ts) reads,
 * with its type, default and meaning, from which `npm run gen` writes docs/configuration.md.
 */

import type { Use } from '../wiring/uses.js';

/** One MLP_* setting as docs/configuration.md gives it (scripts/gen/configuration.ts renders it). */
export interface Setting {
  /** What a value must be. */
  type: string;
  /** The value loadConfig uses when the variable is unset or empty; undefined: unset has the meaning `unset` says. */
  default?: string | number;
  /** What an unset variable means, where that is not a plain default value. */
  unset?: string;
  meaning: string;
  /** Functions on a cluster get it from the shared ConfigMap (stack.yml: from the deploying shell). */
  deployed?: true;
  /**
   * Read only to build this port (shared/wiring/deps.ts): a deployed function gets the setting only
   * when its route uses it (shared/wiring/uses.ts usesOf). Unset: every function gets it.
   */
  use?: Use;
}

const GiB = 1024 ** 3;

/**
 * Every MLP_* setting loadConfig reads, in the order of docs/configuration.md: the one place a
 * setting is declared. loadConfig takes its defaults from here; `npm run gen` writes the doc from
 * it, and `npm run gen:check` fails when loadConfig reads a variable not declared here.
 */
export const SETTINGS = {
  MLP_ROOT: {
    type: 'path',
    default: '.mlp',
    meaning: 'Data root (the NFS volume `/mlp` in the cluster): store, datasets, homes, jobs, models, logs, secrets. Relative paths are from the working directory.',
  },
  MLP_HOST: { type: 'address', default: '127.0.0.1', meaning: 'Address the local platform binds.' },
  MLP_PORT: { type: 'integer 0–65535', default: 30001, meaning: 'Gateway port: the API, `/data` and the browser UI (0 picks a free port).' },
  MLP_APP_PORT: { type: 'integer 0–65535', default: 30002, meaning: 'App gateway port: user applications (0 picks a free port).' },
  MLP_APP_URL: {
    deployed: true,
    type: 'http(s) URL, no query or fragment',
    unset: '`http://127.0.0.1:{MLP_APP_PORT}` (the local app gateway)',
    meaning:
      "The app gateway's base URL as clients call it (a trailing `/` is dropped). Every App carries `endpoint` = `{MLP_APP_URL}/{user}/{app}`, computed when answering, so changing it moves every app at once. Set it to the public URL when the app gateway sits behind a proxy, an Ingress or another port.",
  },
  MLP_PUBLIC_URL: { deployed: true, type: 'URL', unset: "the local gateway's address", meaning: 'The gateway URL jobs are given as `MLP_API`.' },
  MLP_MONGO_URL: {
    use: 'store',
    deployed: true,
    type: '`mongodb://` or `mongodb+srv://` URL',
    unset: 'the embedded store under `MLP_ROOT`',
    meaning: 'MongoDB (or FerretDB) URL; database `mlp` unless the URL names one. Never printed: it may hold a password.',
  },
  MLP_MONGO_LEASE: {
    use: 'store',
    deployed: true,
    type: 'seconds 1–60',
    default: 3,
    meaning: 'Seconds before a document lease left by a dead process is broken; the same for every process sharing the database.',
  },
  MLP_KAFKA_BROKERS: { use: 'bus', deployed: true, type: 'comma-separated `host:port` list', unset: 'the in-process bus', meaning: 'Kafka brokers the metrics travel through.' },
  MLP_METRICS_TOPIC: { use: 'bus', deployed: true, type: 'string', default: 'mlp.job-metrics', meaning: 'Kafka topic of job metrics.' },
  MLP_ORCHESTRATOR: {
    use: 'orchestrator',
    deployed: true,
    type: '`local` or `kubernetes`',
    default: 'local',
    meaning:
      "`local`: jobs and model servers as sandboxed child processes; `kubernetes`: jobs as Pods, apps as a Deployment and Service, through the API server of `KUBECONFIG` (or the pod's service account).",
  },
  MLP_KUBE_NAMESPACE: {
    use: 'orchestrator',
    deployed: true,
    type: 'DNS label',
    default: 'mlp',
    meaning: "Kubernetes only: the one namespace of every job pod and app Deployment (the orchestrator's Role grants only it).",
  },
  MLP_KUBE_JOB_IMAGE: {
    use: 'orchestrator',
    deployed: true,
    type: 'image',
    default: 'mlp/runtime-tf:0.1.0',
    meaning: "Kubernetes only: the image of runtime `tf` jobs (the platform's files at `MLP_KUBE_IMAGE_ROOT`).",
  },
  MLP_KUBE_TORCH_IMAGE: { use: 'orchestrator', deployed: true, type: 'image', default: 'mlp/runtime-torch:0.1.0', meaning: 'Kubernetes only: the image of runtime `torch` jobs.' },
  MLP_KUBE_MODEL_SERVER_IMAGE: { use: 'orchestrator', deployed: true, type: 'image', default: 'mlp/model-server-tf:0.1.0', meaning: "Kubernetes only: the apps' model-server image." },
  MLP_KUBE_CLAIM: {
    use: 'orchestrator',
    deployed: true,
    type: 'string',
    default: 'mlp-nfs',
    meaning: 'Kubernetes only: the PersistentVolumeClaim of the NFS volume whose root is `MLP_ROOT`; pods mount their folders from it (`subPath`).',
  },
  MLP_KUBE_IMAGE_ROOT: {
    use: 'orchestrator',
    deployed: true,
    type: 'absolute path',
    default: '/opt/mlp',
    meaning: "Kubernetes only: where the images hold the checkout; commands' checkout paths are rewritten to it.",
  },
  MLP_KUBE_ENDPOINT: {
    use: 'orchestrator',
    deployed: true,
    type: '`service` or `pod`',
    default: 'service',
    meaning:
      "Kubernetes only: how the app gateway reaches an app: `service` (`mlp-app-<id>.<namespace>.svc`) or `pod` (the ready pod's IP, read from the API, for a cluster without DNS such as `npm run cluster:local`).",
  },
  MLP_KUBE_INGRESS_CLASS: { use: 'orchestrator', deployed: true, type: 'string', unset: 'no Ingress', meaning: 'Kubernetes only: when set, each app also gets an Ingress of this class.' },
  MLP_SECRET: { type: 'string of ≥ 32 characters', unset: 'generated once and kept in `MLP_ROOT/secrets/`', meaning: 'Token signing key.' },
  MLP_SERVICE_TOKEN: { type: 'string of ≥ 32 characters', unset: 'generated once and kept in `MLP_ROOT/secrets/`', meaning: 'The token functions present to call internal routes.' },
  MLP_TOKEN_TTL: { deployed: true, type: 'seconds', default: 86400, meaning: 'Token lifetime.' },
  MLP_TCC_TIMEOUT: { deployed: true, type: 'seconds', default: 60, meaning: 'Seconds before an unconfirmed resource try is cancelled by the reconciler.' },
  MLP_DATASET_STALE: { deployed: true, type: 'seconds', default: 3600, meaning: 'Seconds without heartbeat before a `creating` dataset goes to `error`.' },
  MLP_QUEUE_RESERVE: { deployed: true, type: 'seconds', default: 600, meaning: "Seconds a user's first waiting job may be overtaken before resources are kept for it (the fair queue)." },
  MLP_HOME_QUOTA: { deployed: true, type: 'bytes', default: GiB, meaning: "Bytes one user's home may hold, apart from the tenant's rom." },
  MLP_MAX_OBJECTS_PER_USER: { deployed: true, type: 'integer 1–1000000', default: 1000, meaning: 'Datasets, jobs, models and apps a user may have of each kind.' },
  MLP_JOB_SANDBOX: {
    type: '`on` or `off`',
    default: 'on',
    meaning: "`off` runs jobs and model servers as the platform's own user, on the host's network: for a single-user machine only (said loudly at start).",
  },
  MLP_JOB_LIMITS: {
    type: '`on` or `off`',
    default: 'on',
    meaning: '`off` runs jobs and model servers without cpu, memory, process or disk limits: for a single-user machine only (said loudly at start).',
  },
  MLP_JOB_PIDS: { type: 'integer 16–1000000', default: 1024, meaning: "Processes and threads one job may have at once (its cgroup's pids limit)." },
  MLP_JOB_DISK: { deployed: true, type: 'bytes (≥ 1 MiB)', default: 10 * GiB, meaning: "Bytes a job's workspace may hold (and any one file it writes); past it the job is stopped." },
  MLP_RUNTIMES: { deployed: true, type: 'comma-separated runtimes', default: 'tf,torch', meaning: 'The runtimes this installation offers; a job asking for another is refused with 403 naming these.' },
  MLP_RUNTIME_CACHE: { type: 'path', unset: '`~/.cache/mlp-runtimes`', meaning: "Where the local orchestrator builds the runtimes' Python environments (one folder per runtime and pin set)." },
  MLP_PYTHON: { type: 'absolute path', default: '/usr/bin/python3', meaning: 'The Python those environments are made from; under `/usr`, which sandboxed jobs see.' },
  MLP_TENANT_CPU: { use: 'resources', deployed: true, type: 'number 0.1–10', default: 10, meaning: 'Cores of the `default` tenant.' },
  MLP_TENANT_GPU: { use: 'resources', deployed: true, type: 'integer 0–16', default: 16, meaning: 'GPUs of the `default` tenant.' },
  MLP_TENANT_RAM: { use: 'resources', deployed: true, type: 'integer 100–10000 (Mi)', default: 10000, meaning: 'Memory of the `default` tenant, in Mi.' },
  MLP_TENANT_ROM: { use: 'resources', deployed: true, type: 'bytes', default: 107374182400, meaning: 'Storage of the `default` tenant, in bytes (datasets and models).' },
  MLP_LOG_LEVEL: { deployed: true, type: '`debug`, `info`, `warn` or `error`', default: 'info', meaning: 'The lowest level written to the logs.' },
} as const satisfies Record<`MLP_${string}`, Setting>;
