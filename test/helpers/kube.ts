import * as k8s from '@kubernetes/client-node';

/** What startKube() (scripts/infra/kube.mjs) answers: a real kube-apiserver with RBAC on. */
export interface TestKube {
  url: string;
  token: string;
  restrictedToken: string;
  caFile: string;
  kubeconfig: string;
  stop(): Promise<void>;
}

// A specifier TypeScript does not resolve, so the untyped module does not break strict mode.
const MODULE = new URL('../../scripts/infra/kube.mjs', import.meta.url).href;

/** Starts the test API server (built and cached on first use); the caller stops it. */
export async function startTestKube(opts: { timeoutMs?: number; controllers?: boolean } = {}): Promise<TestKube> {
  const { startKube } = (await import(MODULE)) as { startKube(o?: typeof opts): Promise<TestKube> };
  return startKube(opts);
}

/** A client configuration for the test API server as the holder of `token`. */
export function kubeConfig(kube: Pick<TestKube, 'url' | 'caFile'>, token: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: kube.url, caFile: kube.caFile, skipTLSVerify: false }],
    users: [{ name: 'u', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'u' }],
    currentContext: 'test',
  });
  return kc;
}
