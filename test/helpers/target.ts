import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createTokenService, type TokenService } from '../../shared/auth/tokens.js';
import { createKafkaBus } from '../../shared/bus/kafka.js';
import type { Bus } from '../../shared/bus/port.js';
import { compilePath } from '../../shared/http/path-pattern.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { createRelay, relayOf, type Relay } from '../../shared/metrics/relay.js';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import { WORKSPACE } from '../../shared/orchestrator/kube-pods.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { openMongoStore } from '../../shared/store/mongo.js';
import type { Store } from '../../shared/store/port.js';
import { clusterInfra, startClusterLocal, type ClusterLocal } from './cluster.js';
import { call, startTestPlatform, withDatabase, type Reachable, type TestPlatform } from './platform.js';

/**
 * The platform a contract scenario runs against: in-process (`npm start`'s shape: one process,
 * the local orchestrator) or `npm run cluster:local` (every function its own process behind Nginx,
 * FerretDB, Kafka, the Kubernetes orchestrator on a real API server). A scenario speaks HTTP to
 * it; what a test must reach behind the API (a store read, a token of another job, a message on
 * the bus, a restart) goes through here, so the same scenario holds on both.
 */
export interface Target extends Reachable {
  name: string;
  url: string;
  appUrl: string;
  store: Store;
  tokens: TokenService;
  bus: Bus;
  metricsTopic: string;
  /** The brokers when the bus is Kafka (a test may produce to them with its own client). */
  kafkaBrokers?: string;
  /** A job's folder as its own script sees it (its working directory). */
  jobCwd(user: string, job: string): string;
  /** Stops the metrics relay (its consumer); the returned function brings a new one up. */
  stopRelay(): Promise<() => Promise<void>>;
  /** The platform stops and starts again on the same data (store, folder): in-process it closes; in the cluster its function processes are SIGKILLed. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** The in-process platform; `env` as startTestPlatform takes it (a given MLP_ROOT stays the caller's). */
export async function inProcessTarget(env: Record<string, string> = {}): Promise<Target> {
  const owned = !env.MLP_ROOT;
  const root = env.MLP_ROOT ?? mkdtempSync(path.join(tmpdir(), 'mlp-test-'));
  const start = () => startTestPlatform({ ...env, MLP_ROOT: root });
  let p: TestPlatform = await start();
  const relays: Relay[] = [];
  return {
    name: 'in-process',
    root,
    kafkaBrokers: env.MLP_KAFKA_BROKERS,
    get url() {
      return p.url;
    },
    get appUrl() {
      return p.appUrl;
    },
    get serviceToken() {
      return p.deps.serviceToken;
    },
    get store() {
      return p.deps.store;
    },
    get tokens() {
      return p.deps.tokens;
    },
    get bus() {
      return p.deps.bus;
    },
    get metricsTopic() {
      return p.deps.config.metricsTopic;
    },
    call: (...args) => p.call(...args),
    jobCwd: (user, job) => storagePaths(root).job(user, job),
    async stopRelay() {
      await relayOf(p.deps).stop();
      return async () => {
        const relay = createRelay(p.deps);
        relays.push(relay);
        await relay.start();
      };
    },
    async restart() {
      await p.close();
      p = await start();
    },
    async close() {
      for (const relay of relays.splice(0)) await relay.stop();
      await p.close();
      if (owned) {
        endRecorded(path.join(root, 'orchestrator')); // jobs outlive the platform; not this one's
        rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      }
    },
  };
}

/** The routes the gateway does not serve, with the function serving each. */
async function internalRoutes(): Promise<{ name: string; method: string; pattern: ReturnType<typeof compilePath> }[]> {
  const dir = path.resolve(import.meta.dirname, '../../functions');
  const routes = await Promise.all(
    readdirSync(dir).map(async (name) => (await import(path.join(dir, name, 'route.ts'))).default as { name: string; method: string; path: string; internal?: boolean }),
  );
  return routes.filter((r) => r.internal).map((r) => ({ name: r.name, method: r.method, pattern: compilePath(r.path) }));
}

/** Whether cluster targets can run (npm test starts their servers). */
export const clusterAvailable = () => clusterInfra() !== undefined;

/**
 * `npm run cluster:local` with `env` (tenant capacity …) on a database and topic of its own. The
 * test knows its secrets (given, as an operator gives them), so it can mint tokens as the platform does.
 */
export async function clusterTarget(env: Record<string, string> = {}): Promise<Target> {
  const infra = clusterInfra();
  if (!infra) throw new Error('a cluster target needs MLP_TEST_KUBE, MLP_TEST_MONGO_URL and MLP_TEST_KAFKA_BROKERS (npm test sets them)');
  const work = mkdtempSync(path.join(tmpdir(), 'mlp-cluster-target-'));
  const id = `${process.pid}x${Date.now().toString(36)}`;
  const secret = randomBytes(32).toString('base64url');
  const serviceToken = randomBytes(32).toString('base64url');
  const mongoUrl = withDatabase(infra.mongo, `cl${id}`);
  const metricsTopic = `mlp.contract-${id}`;
  const root = path.join(work, 'root');
  let cluster: ClusterLocal;
  try {
    cluster = await startClusterLocal({
      ...env,
      MLP_ROOT: root,
      MLP_MONGO_URL: mongoUrl,
      MLP_KAFKA_BROKERS: infra.kafka,
      MLP_METRICS_TOPIC: metricsTopic,
      MLP_SECRET: secret,
      MLP_SERVICE_TOKEN: serviceToken,
      // The kubelet's crash-loop back-off is 10 s, doubling: five restarts would take five minutes.
      MLP_STANDIN_BACKOFF_MS: '500',
    });
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  const log = createLogger({ component: 'test', sinks: [memorySink()] });
  const store = await openMongoStore({ url: mongoUrl, log });
  const bus = await createKafkaBus({ brokers: [infra.kafka], clientId: 'mlp-test', log });
  const internal = await internalRoutes();
  const fn = (name: string) => {
    const found = cluster.functions().get(name);
    if (!found) throw new Error(`cluster:local runs no function ${name}:\n${cluster.output().slice(-2000)}`);
    return found;
  };
  /**
   * Waits until `name` runs as a process other than `before` and answers its readiness check. Up
   * to 5 minutes: fifty functions cold-start at once on two cores (at load average 75, 150 s was
   * seen too short). A bound, not a speed check: `npm run bench:cold` measures cold starts.
   */
  const backUp = async (name: string, before: number) => {
    for (let i = 0; i < 1200; i++) {
      const now = cluster.functions().get(name);
      if (now && now.pid !== before) {
        const ready = await fetch(`http://127.0.0.1:${now.port}/_/ready`).then(
          (r) => r.status === 200,
          () => false,
        );
        if (ready) return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`function ${name} did not come back:\n${cluster.output().slice(-2000)}`);
  };
  return {
    name: 'cluster:local',
    url: cluster.url,
    appUrl: cluster.appUrl,
    root,
    serviceToken,
    store,
    tokens: createTokenService({ secret, ttlSeconds: 3600 }),
    bus,
    metricsTopic,
    kafkaBrokers: infra.kafka,
    // The gateway does not route internal routes (reconcilers, the internal metrics routes): a
    // holder of the service token reaches their function directly, as functions do in a cluster.
    call(method, urlPath, opts) {
      const route = internal.find((r) => r.method === method && r.pattern.match(urlPath.split('?')[0] ?? ''));
      return call(route ? `http://127.0.0.1:${fn(route.name).port}` : cluster.url, method, urlPath, opts);
    },
    // The pod mounts its job folder at /workspace and starts there.
    jobCwd: () => WORKSPACE,
    async stopRelay() {
      // As Kubernetes would see a crashed relay pod: gone, then started again by its supervisor.
      const { pid } = fn('metrics-socket');
      process.kill(pid, 'SIGKILL');
      return () => backUp('metrics-socket', pid);
    },
    async restart() {
      // Every function process crashes at once (a node lost); each is started again.
      const before = [...cluster.functions()];
      for (const [, { pid }] of before) process.kill(pid, 'SIGKILL');
      for (const [name, { pid }] of before) await backUp(name, pid);
    },
    async close() {
      await bus.close();
      await store.close();
      await cluster.signal('SIGTERM');
      await cluster.kill(); // whatever did not stop (after a failed scenario)
      rmSync(work, { recursive: true, force: true });
    },
  };
}
