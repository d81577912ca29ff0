import { homedir } from 'node:os';
import path from 'node:path';
import { SETTINGS } from './settings.js';
import { ConfigError } from '../core/errors.js';
import { RUNTIMES, type Runtime } from '../runtimes/catalog.js';

export interface TenantCapacity {
  cpu: number;
  gpu: number;
  ram: number;
  rom: number;
}

export interface Config {
  root: string;
  host: string;
  port: number;
  appPort: number;
  mongoUrl?: string;
  /** Seconds a MongoDB document lease may stay taken before another writer breaks it. */
  mongoLease: number;
  kafkaBrokers?: string[];
  orchestrator: 'local' | 'kubernetes';
  secret?: string;
  serviceToken?: string;
  tokenTtl: number;
  tccTimeout: number;
  datasetStale: number;
  /** MLP_QUEUE_RESERVE: seconds a user's first waiting job may be overtaken before resources are kept for it. */
  queueReserve: number;
  /** MLP_HOME_QUOTA: bytes one user's home may hold (apart from the tenant's rom). */
  homeQuota: number;
  /** Datasets, jobs, models and apps one user may have of each kind (a flood bound). */
  maxObjectsPerUser: number;
  /** MLP_JOB_SANDBOX: jobs run sandboxed (on) or as the platform's own user (off: a single-user machine only). */
  jobSandbox: 'on' | 'off';
  /** MLP_JOB_LIMITS: a job's cpu, ram, processes and disk are enforced (on), or not at all (off: a single-user machine only). */
  jobLimits: 'on' | 'off';
  /** MLP_JOB_PIDS: processes and threads one job may have at once. */
  jobPids: number;
  /** MLP_JOB_DISK: bytes one job's workspace may hold. */
  jobDisk: number;
  /** MLP_RUNTIMES: the runtimes this installation offers (a job asking for another is refused). */
  runtimes: Runtime[];
  /** MLP_RUNTIME_CACHE: where the local orchestrator builds the runtimes' Python environments. */
  runtimeCache: string;
  /** MLP_PYTHON: the interpreter those environments are made from (under /usr: jobs' sandboxes see /usr). */
  python: string;
  tenant: TenantCapacity;
  metricsTopic: string;
  /** The gateway's URL as jobs reach it (MLP_API); unset: the local gateway's own address. */
  publicUrl?: string;
  /**
   * MLP_APP_URL: the app gateway's base URL as clients call it (no trailing slash); every App
   * answered carries `{appUrl}/{user}/{app}`. Unset: the local app gateway's own address
   * (appGatewayUrl).
   */
  appUrl?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** MLP_ORCHESTRATOR=kubernetes only (the kubeconfig itself comes from KUBECONFIG or the pod's service account). */
  kube: KubeConfigSettings;
}

export interface KubeConfigSettings {
  /** MLP_KUBE_NAMESPACE: the one namespace every job pod and app Deployment goes to (its Role grants only it). */
  namespace: string;
  /** MLP_KUBE_JOB_IMAGE, MLP_KUBE_TORCH_IMAGE: each runtime's job image (the platform's files at imageRoot). */
  jobImages: Record<Runtime, string>;
  /** MLP_KUBE_MODEL_SERVER_IMAGE: the model server's image, for apps. */
  modelServerImage: string;
  /** MLP_KUBE_CLAIM: the PersistentVolumeClaim of the shared NFS volume whose root is MLP_ROOT. */
  claim: string;
  /** MLP_KUBE_IMAGE_ROOT: where the images hold the platform's checkout (commands are rewritten to it). */
  imageRoot: string;
  /** MLP_KUBE_ENDPOINT: how the app gateway reaches an app: its Service's DNS name, or its ready pod's IP (no cluster DNS). */
  endpoint: 'service' | 'pod';
  /** MLP_KUBE_INGRESS_CLASS: when set, each app also gets an Ingress of this class. */
  ingressClass?: string;
}

type Env = Record<string, string | undefined>;

/**
 * Pure: reads the environment, returns a validated Config or throws ConfigError
 * naming every problem at once, so a bad start-up says everything wrong in one go.
 */
export function loadConfig(env: Env, cwd = process.cwd()): Config {
  const problems: string[] = [];
  const num = (name: string, dflt: number, opts: { min: number; max: number; int: boolean }): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return dflt;
    const value = Number(raw);
    if (!Number.isFinite(value) || (opts.int && !Number.isInteger(value)) || value < opts.min || value > opts.max) {
      problems.push(`${name}=${raw}: must be ${opts.int ? 'an integer' : 'a number'} from ${opts.min} to ${opts.max}`);
      return dflt;
    }
    return value;
  };
  const int = (name: string, dflt: number, min: number, max: number) => num(name, dflt, { min, max, int: true });

  const orchestrator = env.MLP_ORCHESTRATOR || SETTINGS.MLP_ORCHESTRATOR.default;
  if (orchestrator !== 'local' && orchestrator !== 'kubernetes') {
    problems.push(`MLP_ORCHESTRATOR=${orchestrator}: must be local or kubernetes`);
  }
  const jobSandbox = env.MLP_JOB_SANDBOX || SETTINGS.MLP_JOB_SANDBOX.default;
  if (jobSandbox !== 'on' && jobSandbox !== 'off') problems.push(`MLP_JOB_SANDBOX=${jobSandbox}: must be on or off`);
  const jobLimits = env.MLP_JOB_LIMITS || SETTINGS.MLP_JOB_LIMITS.default;
  if (jobLimits !== 'on' && jobLimits !== 'off') problems.push(`MLP_JOB_LIMITS=${jobLimits}: must be on or off`);
  const logLevel = env.MLP_LOG_LEVEL || SETTINGS.MLP_LOG_LEVEL.default;
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    problems.push(`MLP_LOG_LEVEL=${logLevel}: must be debug, info, warn or error`);
  }
  const mongoUrl = env.MLP_MONGO_URL || undefined;
  if (mongoUrl && !/^mongodb(\+srv)?:\/\//.test(mongoUrl)) {
    problems.push('MLP_MONGO_URL: must start with mongodb:// (its value is not shown: it may hold a password)');
  }
  const kafkaBrokers = env.MLP_KAFKA_BROKERS
    ? env.MLP_KAFKA_BROKERS.split(',')
        .map((b) => b.trim())
        .filter(Boolean)
    : undefined;
  for (const broker of kafkaBrokers ?? []) {
    if (!/^[A-Za-z0-9.-]+:\d{1,5}$/.test(broker)) problems.push(`MLP_KAFKA_BROKERS: "${broker}" must be host:port`);
  }
  const kubeEndpoint = env.MLP_KUBE_ENDPOINT || SETTINGS.MLP_KUBE_ENDPOINT.default;
  if (kubeEndpoint !== 'service' && kubeEndpoint !== 'pod') problems.push(`MLP_KUBE_ENDPOINT=${kubeEndpoint}: must be service or pod`);
  const kubeNamespace = env.MLP_KUBE_NAMESPACE || SETTINGS.MLP_KUBE_NAMESPACE.default;
  // A namespace is a DNS label (RFC 1123).
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(kubeNamespace)) problems.push(`MLP_KUBE_NAMESPACE=${kubeNamespace}: must be a DNS label (lower-case letters, digits, '-')`);
  const kubeImageRoot = env.MLP_KUBE_IMAGE_ROOT || SETTINGS.MLP_KUBE_IMAGE_ROOT.default;
  if (!path.isAbsolute(kubeImageRoot)) problems.push(`MLP_KUBE_IMAGE_ROOT=${kubeImageRoot}: must be an absolute path`);
  const runtimes = (env.MLP_RUNTIMES ?? SETTINGS.MLP_RUNTIMES.default)
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  for (const r of runtimes) if (!(RUNTIMES as readonly string[]).includes(r)) problems.push(`MLP_RUNTIMES: "${r}" is not a runtime (they are ${RUNTIMES.join(', ')})`);
  if (runtimes.length === 0) problems.push(`MLP_RUNTIMES: name at least one runtime (${RUNTIMES.join(', ')})`);
  const python = env.MLP_PYTHON || SETTINGS.MLP_PYTHON.default;
  if (!path.isAbsolute(python)) problems.push(`MLP_PYTHON=${python}: must be an absolute path`);
  const secret = env.MLP_SECRET || undefined;
  if (secret !== undefined && secret.length < 32) problems.push('MLP_SECRET: must be at least 32 characters');
  const serviceToken = env.MLP_SERVICE_TOKEN || undefined;
  const appUrl = baseUrl('MLP_APP_URL', env.MLP_APP_URL, problems);
  if (serviceToken !== undefined && serviceToken.length < 32) problems.push('MLP_SERVICE_TOKEN: must be at least 32 characters');

  const config: Config = {
    root: path.resolve(cwd, env.MLP_ROOT || SETTINGS.MLP_ROOT.default),
    host: env.MLP_HOST || SETTINGS.MLP_HOST.default,
    port: int('MLP_PORT', SETTINGS.MLP_PORT.default, 0, 65535),
    appPort: int('MLP_APP_PORT', SETTINGS.MLP_APP_PORT.default, 0, 65535),
    mongoUrl,
    mongoLease: int('MLP_MONGO_LEASE', SETTINGS.MLP_MONGO_LEASE.default, 1, 60),
    kafkaBrokers,
    orchestrator: orchestrator as Config['orchestrator'],
    secret,
    serviceToken,
    tokenTtl: int('MLP_TOKEN_TTL', SETTINGS.MLP_TOKEN_TTL.default, 1, 365 * 86400),
    tccTimeout: int('MLP_TCC_TIMEOUT', SETTINGS.MLP_TCC_TIMEOUT.default, 1, 86400),
    datasetStale: int('MLP_DATASET_STALE', SETTINGS.MLP_DATASET_STALE.default, 1, 30 * 86400),
    queueReserve: int('MLP_QUEUE_RESERVE', SETTINGS.MLP_QUEUE_RESERVE.default, 0, 30 * 86400),
    homeQuota: int('MLP_HOME_QUOTA', SETTINGS.MLP_HOME_QUOTA.default, 0, Number.MAX_SAFE_INTEGER),
    maxObjectsPerUser: int('MLP_MAX_OBJECTS_PER_USER', SETTINGS.MLP_MAX_OBJECTS_PER_USER.default, 1, 1_000_000),
    jobSandbox: jobSandbox as Config['jobSandbox'],
    jobLimits: jobLimits as Config['jobLimits'],
    jobPids: int('MLP_JOB_PIDS', SETTINGS.MLP_JOB_PIDS.default, 16, 1_000_000),
    jobDisk: int('MLP_JOB_DISK', SETTINGS.MLP_JOB_DISK.default, 1024 * 1024, Number.MAX_SAFE_INTEGER),
    runtimes: [...new Set(runtimes)] as Runtime[],
    runtimeCache: path.resolve(cwd, env.MLP_RUNTIME_CACHE || path.join(homedir(), '.cache', 'mlp-runtimes')),
    python,
    tenant: {
      // The contract's ranges bound the tenant's capacity (docs/api.md#resources).
      cpu: num('MLP_TENANT_CPU', SETTINGS.MLP_TENANT_CPU.default, { min: 0.1, max: 10, int: false }),
      gpu: int('MLP_TENANT_GPU', SETTINGS.MLP_TENANT_GPU.default, 0, 16),
      ram: int('MLP_TENANT_RAM', SETTINGS.MLP_TENANT_RAM.default, 100, 10000),
      rom: int('MLP_TENANT_ROM', SETTINGS.MLP_TENANT_ROM.default, 0, Number.MAX_SAFE_INTEGER),
    },
    metricsTopic: env.MLP_METRICS_TOPIC || SETTINGS.MLP_METRICS_TOPIC.default,
    publicUrl: env.MLP_PUBLIC_URL ? env.MLP_PUBLIC_URL.replace(/\/+$/, '') : undefined,
    ...(appUrl ? { appUrl } : {}),
    logLevel: logLevel as Config['logLevel'],
    kube: {
      namespace: kubeNamespace,
      jobImages: { tf: env.MLP_KUBE_JOB_IMAGE || SETTINGS.MLP_KUBE_JOB_IMAGE.default, torch: env.MLP_KUBE_TORCH_IMAGE || SETTINGS.MLP_KUBE_TORCH_IMAGE.default },
      modelServerImage: env.MLP_KUBE_MODEL_SERVER_IMAGE || SETTINGS.MLP_KUBE_MODEL_SERVER_IMAGE.default,
      claim: env.MLP_KUBE_CLAIM || SETTINGS.MLP_KUBE_CLAIM.default,
      imageRoot: kubeImageRoot,
      endpoint: kubeEndpoint as KubeConfigSettings['endpoint'],
      ...(env.MLP_KUBE_INGRESS_CLASS ? { ingressClass: env.MLP_KUBE_INGRESS_CLASS } : {}),
    },
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/**
 * An http(s) base URL without credentials, query or fragment, trailing slashes stripped; a
 * problem is recorded otherwise. Empty or unset: undefined (the default applies).
 */
function baseUrl(name: string, raw: string | undefined, problems: string[]): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    problems.push(`${name}=${raw}: must be an http:// or https:// URL`);
    return undefined;
  }
  const why =
    u.protocol !== 'http:' && u.protocol !== 'https:'
      ? 'must be an http:// or https:// URL'
      : u.username || u.password
        ? 'must not hold a user name or password'
        : u.search || raw.includes('?')
          ? 'must not have a query (?…)'
          : u.hash || raw.includes('#')
            ? 'must not have a fragment (#…)'
            : undefined;
  if (why) {
    // A URL with credentials is not repeated.
    problems.push(u.username || u.password ? `${name}: ${why}` : `${name}=${raw}: ${why}`);
    return undefined;
  }
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

/**
 * The app gateway's base URL clients are given: MLP_APP_URL, or else the local app gateway's
 * address on `port` (the port it listens on; MLP_APP_PORT before it does), a wildcard listen
 * address given as the loopback one.
 */
export function appGatewayUrl(config: Pick<Config, 'appUrl' | 'host' | 'appPort'>, port = config.appPort): string {
  if (config.appUrl) return config.appUrl;
  const host = config.host === '0.0.0.0' || config.host === '' ? '127.0.0.1' : config.host === '::' ? '[::1]' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${port}`;
}
