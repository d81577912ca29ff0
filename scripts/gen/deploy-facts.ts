import type { RouteDef } from '../../shared/routes/route.js';
import { SETTINGS } from '../../shared/config/settings.js';
import { SECRET_SOURCES, secretsOf } from '../../shared/config/secrets.js';
import { usesOf } from '../../shared/wiring/uses.js';

/** Facts every deployment target shares, so stack.yml and knative/ cannot drift apart. */
export const NAMESPACE = 'mlp';
export const IMAGE_PREFIX = 'mlp';
export const VERSION = '0.1.0';
/** What every function image runs: its function's bundle (templates/mlp-node20/Dockerfile, scripts/bundle-functions.mjs). */
export const ENTRY = ['node', 'dist/bundles/function/index.js'];
export const DATA_MOUNT = '/mlp';

export function imageOf(route: RouteDef): string {
  return `${IMAGE_PREFIX}/${route.name}:${VERSION}`;
}

/**
 * Configuration deployed functions get (docs/configuration.md), none of it secret: the cluster's
 * ConfigMap (Knative) or the deploying shell (OpenFaaS), each function only what deployedEnvOf
 * gives it. Secrets go only where secretsOf says. The settings declared `deployed` in
 * shared/config/settings.ts, so a new one cannot be left out.
 */
export const SHARED_ENV: string[] = Object.entries(SETTINGS)
  .filter(([, s]) => 'deployed' in s && s.deployed)
  .map(([name]) => name);

/**
 * The deployed settings one function gets: those every function reads, and those of the ports its
 * route uses (a setting's `use` in shared/config/settings.ts), so a function that never opens Kafka
 * is not told where Kafka is.
 */
export function deployedEnvOf(route: RouteDef): string[] {
  const uses = new Set<string>(usesOf(route));
  return SHARED_ENV.filter((name) => {
    const use = (SETTINGS[name as keyof typeof SETTINGS] as { use?: string }).use;
    return use === undefined || uses.has(use);
  });
}

/** Whether a function opens the store (so it gets MongoDB's URL with its credentials). */
export const usesStore = (route: RouteDef): boolean => usesOf(route).includes('store');

/** The ServiceAccount (and Role, RoleBinding) of the functions that call the orchestrator. */
export const ORCHESTRATOR_ACCOUNT = 'mlp-orchestrator';
/** The NFS claim every function and workload mounts; its root is MLP_ROOT. */
export const NFS_CLAIM = 'mlp-nfs';
/** Runtime images (the conventions of the Kubernetes orchestrator): the platform's files at IMAGE_ROOT. */
export const JOB_IMAGE = `${IMAGE_PREFIX}/runtime-tf:${VERSION}`;
export const TORCH_IMAGE = `${IMAGE_PREFIX}/runtime-torch:${VERSION}`;
export const MODEL_SERVER_IMAGE = `${IMAGE_PREFIX}/model-server-tf:${VERSION}`;
export const IMAGE_ROOT = '/opt/mlp';
/** The design's node ports that keep their meaning (docs/deploy.md). */
export const NODE_PORTS = { gateway: 30001, appGateway: 30002, kafka: 30010, mongo: 30011 };
/**
 * The app gateway's host name on the Ingress, a placeholder the operator replaces (docs/deploy.md);
 * MLP_APP_URL in the ConfigMap is http:// and this host, so Apps name the same place.
 */
export const APP_HOST = 'apps.mlp.example';
/** In-cluster addresses of the stores (k8s/30-mongo.yaml, k8s/30-kafka.yaml). */
export const MONGO_URL = `mongodb://mlp-mongo.${NAMESPACE}.svc.cluster.local:27017/mlp`;
export const KAFKA_BROKERS = `mlp-kafka.${NAMESPACE}.svc.cluster.local:9092`;
export const METRICS_TOPIC = 'mlp.job-metrics';

/** The cluster secrets (Kubernetes / OpenFaaS secret names, as SECRET_SOURCES has them) a function is given. */
export function clusterSecretsOf(route: RouteDef): { name: string; env: string }[] {
  return secretsOf(route).map((s) => ({ name: SECRET_SOURCES[s].secret, env: SECRET_SOURCES[s].env }));
}
