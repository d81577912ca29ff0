import type { RouteDef } from '../../shared/route.js';

/** Facts every deployment target shares, so stack.yml and knative/ cannot drift apart. */
export const NAMESPACE = 'mlp';
export const IMAGE_PREFIX = 'mlp';
export const VERSION = '0.1.0';
export const ENTRY = ['node', 'dist/templates/mlp-node20/index.js'];
export const DATA_MOUNT = '/mlp';

export function imageOf(route: RouteDef): string {
  return `${IMAGE_PREFIX}/${route.name}:${VERSION}`;
}

/** Configuration every function gets (API.md §12); values come from the cluster's config and secrets. */
export const SHARED_ENV = [
  'MLP_MONGO_URL',
  'MLP_MONGO_LEASE',
  'MLP_KAFKA_BROKERS',
  'MLP_ORCHESTRATOR',
  'MLP_SECRET',
  'MLP_SERVICE_TOKEN',
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
