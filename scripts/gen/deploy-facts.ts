import type { RouteDef } from '../../shared/route.js';
import { SECRET_SOURCES, secretsOf } from '../../shared/secrets.js';

/** Facts every deployment target shares, so stack.yml and knative/ cannot drift apart. */
export const NAMESPACE = 'mlp';
export const IMAGE_PREFIX = 'mlp';
export const VERSION = '0.1.0';
export const ENTRY = ['node', 'dist/templates/mlp-node20/index.js'];
export const DATA_MOUNT = '/mlp';

export function imageOf(route: RouteDef): string {
  return `${IMAGE_PREFIX}/${route.name}:${VERSION}`;
}

/**
 * Configuration every function gets (API.md §12), none of it secret: the cluster's ConfigMap
 * (Knative) or the deploying shell (OpenFaaS). Secrets go only where secretsOf says.
 */
export const SHARED_ENV = [
  'MLP_MONGO_URL',
  'MLP_MONGO_LEASE',
  'MLP_KAFKA_BROKERS',
  'MLP_ORCHESTRATOR',
  'MLP_TOKEN_TTL',
  'MLP_TCC_TIMEOUT',
  'MLP_DATASET_STALE',
  'MLP_QUEUE_RESERVE',
  'MLP_HOME_QUOTA',
  'MLP_MAX_OBJECTS_PER_USER',
  'MLP_TENANT_CPU',
  'MLP_TENANT_GPU',
  'MLP_TENANT_RAM',
  'MLP_TENANT_ROM',
];

/** The cluster secrets (Kubernetes / OpenFaaS secret names, as SECRET_SOURCES has them) a function is given. */
export function clusterSecretsOf(route: RouteDef): { name: string; env: string }[] {
  return secretsOf(route).map((s) => ({ name: SECRET_SOURCES[s].secret, env: SECRET_SOURCES[s].env }));
}
