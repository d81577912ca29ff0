import path from 'node:path';
import { createAuthenticator, type Authenticator } from '../auth/principal.js';
import { createTokenService, type TokenService } from '../auth/tokens.js';
import { createInProcessBus } from '../bus/in-process.js';
import type { Bus } from '../bus/port.js';
import { appGatewayUrl, type Config } from '../config/load.js';
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { USES, type Use } from './uses.js';
import type { JobLimits } from '../orchestrator/local-limits.js';
import type { Orchestrator } from '../orchestrator/port.js';
import { usersRepo, type UsersRepo } from '../records/users.js';
import type { Runtimes } from '../runtimes/port.js';
import type { PythonEnvs } from '../runtimes/python-env.js';
import { resolveSecrets } from '../config/secrets.js';
import type { Store } from '../store/port.js';
import type { TccClient } from '../tcc/client.js';
import type { ResourceManager } from '../tcc/resource-manager.js';

/** Everything a handler may use, built once at start and injected (never read from process.env). */
export interface Deps {
  config: Config;
  log: Logger;
  now: () => Date;
  store: Store;
  bus: Bus;
  tokens: TokenService;
  auth: Authenticator;
  users: UsersRepo;
  serviceToken: string;
  /** The Resource-manager's ledger (its own functions use it). */
  resources: ResourceManager;
  /** How the other managers reserve and release resources. */
  tcc: TccClient;
  /** Runs jobs' scripts and apps' servers. */
  orchestrator: Orchestrator;
  /**
   * How jobs are confined (docs/configuration.md MLP_JOB_SANDBOX): on (sandboxed), off (the operator's
   * choice: unconfined), or unavailable (on, but the sandbox cannot be had: jobs are refused).
   */
  jobSandbox: { mode: 'on' | 'off' | 'unavailable'; detail: string };
  /** How jobs are held to their cpu, ram, processes and disk (MLP_JOB_LIMITS), as jobSandbox says how they are confined. */
  jobLimits: { mode: 'on' | 'off' | 'unavailable'; detail: string };
  /** The gateway as jobs reach it; the local runner fills in its address once it listens. */
  gateway: { url: string };
  /** The runtimes' Python environments the local orchestrator's jobs run in (built on first use). */
  pythonEnvs: PythonEnvs;
  /** What jobs and apps run: the runtimes' templates, handed in by the composition root (shared/runtimes/port.ts). */
  runtimes: Runtimes;
  /** The app gateway's base URL as clients call it (MLP_APP_URL); the local runner fills in its address once it listens. */
  appGateway: { url: string };
}

export interface Overrides {
  now?: () => Date;
  store?: Store;
  bus?: Bus;
  orchestrator?: Orchestrator;
}

/**
 * Builds the adapters the configuration names: real servers when configured, embedded defaults
 * otherwise. With `uses` (a function process: shared/wiring/uses.ts usesOf of its route) only those
 * ports are built, and modules of the others are not even loaded; each port left out throws if
 * read. Without it (the local runner, tests), everything.
 */
export async function createDeps(config: Config, log: Logger, overrides: Overrides & { runtimes: Runtimes }, uses?: readonly Use[]): Promise<Deps & { built: readonly Use[]; close(): Promise<void> }> {
  const built = uses ? USES.filter((u) => uses.includes(u)) : USES;
  const wants = (use: Use) => built.includes(use);
  const now = overrides.now ?? (() => new Date());
  const secrets = await resolveSecrets(config);
  const ownStore = wants('store') && !overrides.store;
  const ownBus = wants('bus') && !overrides.bus;
  const store = overrides.store ?? (wants('store') ? await openStore(config, now, log) : notBuilt<Store>('store'));
  // What this call opened, closed on a failed start as on close(); injected adapters belong to the caller.
  const closeOpened = async () => {
    if (ownBus) await bus.close();
    if (ownStore) await store.close();
  };
  let bus: Bus = overrides.bus ?? notBuilt<Bus>('bus');
  if (ownBus) {
    bus = await openBus(config, log).catch(async (err: unknown) => {
      if (ownStore) await store.close();
      throw err;
    });
  }
  const tokens = createTokenService({ secret: secrets.secret, ttlSeconds: config.tokenTtl, now });
  const users = wants('store') ? usersRepo(store) : notBuilt<UsersRepo>('store');
  const auth = createAuthenticator({ tokens, users, serviceToken: secrets.serviceToken, now });
  let resources = notBuilt<ResourceManager>('resources');
  let tcc = notBuilt<TccClient>('resources');
  if (wants('resources')) {
    try {
      const [{ resourceManager }, { createTccClient, inProcessTransport }, { toExact }] = await Promise.all([
        import('../tcc/resource-manager.js'),
        import('../tcc/client.js'),
        import('../tcc/amounts.js'),
      ]);
      resources = resourceManager(store, { now, log, timeoutMs: config.tccTimeout * 1000 });
      // Capacity comes from configuration at every start; what is in use is kept.
      await resources.ensureTenant('default', toExact(config.tenant));
      tcc = createTccClient(inProcessTransport(resources), { log });
    } catch (err) {
      await closeOpened();
      throw err;
    }
  }
  const gateway = { url: config.publicUrl ?? `http://${config.host}:${config.port}` };
  let jobs: Pick<Deps, 'orchestrator' | 'jobSandbox' | 'jobLimits' | 'pythonEnvs'> = {
    orchestrator: overrides.orchestrator ?? notBuilt<Orchestrator>('orchestrator'),
    jobSandbox: notBuilt<Deps['jobSandbox']>('orchestrator'),
    jobLimits: notBuilt<Deps['jobLimits']>('orchestrator'),
    pythonEnvs: notBuilt<PythonEnvs>('orchestrator'),
  };
  if (wants('orchestrator')) {
    try {
      jobs = await openJobs(config, log, now, overrides, gateway);
    } catch (err) {
      await closeOpened();
      throw err;
    }
  }
  const ownOrchestrator = wants('orchestrator') && !overrides.orchestrator;
  return {
    config,
    log,
    now,
    store,
    bus,
    tokens,
    auth,
    users,
    serviceToken: secrets.serviceToken,
    resources,
    tcc,
    ...jobs,
    gateway,
    runtimes: overrides.runtimes,
    appGateway: { url: appGatewayUrl(config) },
    built,
    async close() {
      // Local jobs outlive the platform (the next start adopts them); apps' servers stop here.
      if (ownOrchestrator) await jobs.orchestrator.close();
      await closeOpened();
    },
  };
}

/** A port this process did not build (its route does not use it): reading it is a bug, said plainly. */
function notBuilt<T>(use: Use): T {
  return new Proxy({} as object, {
    get(_t, key) {
      if (key === 'then') return undefined;
      throw new Error(`this process did not build '${use}' (its route does not declare uses: ['${use}']), yet deps.${use}.${String(key)} was read`);
    },
  }) as T;
}

/** The orchestrator and how it confines jobs: probed, and its modules loaded, only where jobs are started. */
async function openJobs(config: Config, log: Logger, now: () => Date, overrides: Overrides, gateway: { url: string }): Promise<Pick<Deps, 'orchestrator' | 'jobSandbox' | 'jobLimits' | 'pythonEnvs'>> {
  const [{ createLocalOrchestrator }, { describeLimits }, { describeSandbox, sandboxSupport }, { createPythonEnvs }] = await Promise.all([
    import('../orchestrator/local.js'),
    import('../orchestrator/local-limits.js'),
    import('../orchestrator/sandbox.js'),
    import('../runtimes/python-env.js'),
  ]);
  const kube = config.orchestrator === 'kubernetes' && !overrides.orchestrator ? await openKubernetes(config, log, now) : undefined;
  // The local sandbox is probed once per process; another orchestrator confines jobs its own way.
  const sandbox = overrides.orchestrator || kube ? undefined : await sandboxSupport(config.jobSandbox);
  const limits = overrides.orchestrator || kube ? undefined : await jobLimits(config);
  const orchestrator =
    overrides.orchestrator ?? kube ?? createLocalOrchestrator({ log, now, sandbox, stateDir: path.join(config.root, 'orchestrator'), api: () => gateway.url, ...(limits ? { limits } : {}) });
  const jobLimitsState: Deps['jobLimits'] = limits
    ? { mode: limits.mode === 'on' && limits.cgroups.mode === 'unavailable' ? 'unavailable' : limits.mode, detail: describeLimits(limits) }
    : { mode: config.jobLimits, detail: `left to the ${orchestrator.kind} orchestrator (requests = limits)` };
  if (jobLimitsState.mode === 'off') log.warn(`job limits off: ${jobLimitsState.detail}`);
  if (jobLimitsState.mode === 'unavailable') log.error(`job limits unavailable: ${jobLimitsState.detail}`);
  const jobSandbox: Deps['jobSandbox'] = sandbox
    ? { mode: sandbox.mode, detail: describeSandbox(sandbox) }
    : config.jobSandbox === 'off'
      ? { mode: 'off', detail: `MLP_JOB_SANDBOX=off: left to the ${orchestrator.kind} orchestrator` }
      : { mode: 'on', detail: `jobs are confined by the ${orchestrator.kind} orchestrator` };
  if (jobSandbox.mode === 'off') log.warn(`job sandbox off: ${jobSandbox.detail}`);
  if (jobSandbox.mode === 'unavailable') log.error(`job sandbox unavailable: ${jobSandbox.detail}`);
  return { orchestrator, jobSandbox, jobLimits: jobLimitsState, pythonEnvs: createPythonEnvs({ cache: config.runtimeCache, python: config.python, log }) };
}

/** MLP_JOB_LIMITS as this machine can enforce it (cgroups probed once per process). */
async function jobLimits(config: Config): Promise<JobLimits> {
  if (config.jobLimits === 'off') return { mode: 'off' };
  const { cgroupSupport } = await import('../orchestrator/cgroups-probe.js');
  const { JOB_NOFILE } = await import('../orchestrator/local-limits.js');
  return { mode: 'on', cgroups: await cgroupSupport(), pids: config.jobPids, disk: config.jobDisk, nofile: JOB_NOFILE };
}

/** The Kubernetes adapter: the kubeconfig from KUBECONFIG (or ~/.kube/config), else the pod's service account. */
async function openKubernetes(config: Config, log: Logger, now: () => Date): Promise<Orchestrator> {
  const k8s = await import('@kubernetes/client-node');
  const { createKubernetesOrchestrator } = await import('../orchestrator/kubernetes.js');
  const kubeConfig = new k8s.KubeConfig();
  try {
    kubeConfig.loadFromDefault();
  } catch (err) {
    throw new ConfigError([`MLP_ORCHESTRATOR=kubernetes: no usable kubeconfig (KUBECONFIG or in-cluster): ${(err as Error).message}`]);
  }
  const k = config.kube;
  const cluster = kubeConfig.getCurrentCluster();
  // A function without the mlp-orchestrator ServiceAccount (most of them, by design) has no token:
  // then client-node falls back to an anonymous http://localhost:8080, which is never the cluster.
  if (!cluster || (cluster.name === 'cluster' && cluster.server === 'http://localhost:8080')) {
    const { uncredentialedKubernetes } = await import('../orchestrator/kube-uncredentialed.js');
    return uncredentialedKubernetes({ namespace: k.namespace, endpointMode: k.endpoint, why: 'no cluster in KUBECONFIG and no service-account token' });
  }
  // Its close() ends only this process's watch: pods outlive the function that started them.
  return createKubernetesOrchestrator({
    kubeConfig,
    namespace: k.namespace,
    jobImages: k.jobImages,
    modelServerImage: k.modelServerImage,
    claimName: k.claim,
    root: config.root,
    imageRoot: k.imageRoot,
    endpointMode: k.endpoint,
    ...(k.ingressClass ? { ingressClass: k.ingressClass } : {}),
    log,
    now,
  });
}

async function openStore(config: Config, now: () => Date, log: Logger): Promise<Store> {
  if (config.mongoUrl) {
    const { openMongoStore } = await import('../store/mongo.js');
    return openMongoStore({ url: config.mongoUrl, log, now, lease: { ttlMs: config.mongoLease * 1000, waitMs: 10 * config.mongoLease * 1000 } });
  }
  const { openEmbeddedStore } = await import('../store/embedded.js');
  return openEmbeddedStore({ dir: path.join(config.root, 'store'), now });
}

async function openBus(config: Config, log: Logger): Promise<Bus> {
  if (config.kafkaBrokers) {
    const { createKafkaBus } = await import('../bus/kafka.js');
    return createKafkaBus({ brokers: config.kafkaBrokers, log, clientId: 'mlp' });
  }
  return createInProcessBus({ log });
}
