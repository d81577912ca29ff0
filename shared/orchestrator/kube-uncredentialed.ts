import { Unavailable } from '../core/errors.js';
import { serviceEndpoint } from './kube-pods.js';
import type { Orchestrator } from './port.js';

/**
 * The Kubernetes orchestrator of a function that has no credentials for the API: on a cluster only
 * the functions marked `orchestrator: true` in their route run as the ServiceAccount mlp-orchestrator
 * (k8s/10-rbac.yaml); every other one has no token at all (least privilege). They still build their
 * deps with MLP_ORCHESTRATOR=kubernetes from the shared ConfigMap, so they get this: the Service
 * address of an app needs no API call; everything else is refused, naming the cause.
 */
export function uncredentialedKubernetes(o: { namespace: string; endpointMode: 'service' | 'pod'; why: string }): Orchestrator {
  const refuse = (what: string): never => {
    throw new Unavailable(
      `this function cannot ${what}: it has no Kubernetes credentials (${o.why}); only functions marked orchestrator: true in their route run with the mlp-orchestrator ServiceAccount`,
    );
  };
  return {
    kind: 'kubernetes',
    start: async () => refuse('start workloads'),
    stop: async () => refuse('stop workloads'),
    status: async () => refuse('read workload status'),
    forget: async () => refuse('remove workloads'),
    endpoint(id, port) {
      if (o.endpointMode === 'service') return serviceEndpoint(o.namespace, id, port);
      return refuse("find an app pod's address (MLP_KUBE_ENDPOINT=pod reads pods from the API)");
    },
    portAvailable: async () => refuse('check ports'),
    watch: () => refuse('watch workloads'),
    close: async () => {},
  };
}
