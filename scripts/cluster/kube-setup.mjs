// The namespace the platform's workloads live in, and the orchestrator's least-privilege access:
// the generated ServiceAccount, Role and RoleBinding (k8s/10-rbac.yaml) applied to the real API
// server, and a kubeconfig holding a token minted for that ServiceAccount (TokenRequest API).
// Only the functions marked as using the orchestrator get it; the kubelet stand-in uses the admin.
import fs from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../lib/setup.mjs';

const RBAC_FILE = path.join(ROOT, 'k8s/10-rbac.yaml');

const conflictOk = (err) => {
  if (err?.code !== 409) throw err;
};

export async function prepareNamespace({ kube, namespace, dir, endpointMode }) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kube.kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } }).catch(conflictOk);

  const docs = parseAllDocuments(fs.readFileSync(RBAC_FILE, 'utf8'))
    .map((d) => d.toJS())
    .filter(Boolean);
  let account;
  for (const doc of docs) {
    const body = { ...doc, metadata: { ...doc.metadata, namespace } };
    if (doc.kind === 'ServiceAccount') {
      account = doc.metadata.name;
      await core.createNamespacedServiceAccount({ namespace, body }).catch(conflictOk);
    } else if (doc.kind === 'Role') {
      await rbac.createNamespacedRole({ namespace, body }).catch(conflictOk);
    } else if (doc.kind === 'RoleBinding') {
      body.subjects = doc.subjects.map((s) => (s.kind === 'ServiceAccount' ? { ...s, namespace } : s));
      await rbac.createNamespacedRoleBinding({ namespace, body }).catch(conflictOk);
    }
  }
  if (!account) throw new Error(`${RBAC_FILE} has no ServiceAccount`);
  const minted = await core.createNamespacedServiceAccountToken({
    name: account,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 7 * 24 * 3600 } },
  });
  const file = path.join(dir, 'orchestrator.kubeconfig');
  fs.writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'current-context: mlp',
      'clusters:',
      '- name: mlp',
      '  cluster:',
      `    server: ${kube.url}`,
      `    certificate-authority: ${kube.caFile}`,
      'users:',
      `- name: ${account}`,
      '  user:',
      `    token: ${minted.status.token}`,
      'contexts:',
      '- name: mlp',
      '  context:',
      '    cluster: mlp',
      `    user: ${account}`,
      `    namespace: ${namespace}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  // Every other function has no credentials at all, as on a cluster (automountServiceAccountToken: false).
  const none = path.join(dir, 'no-credentials.kubeconfig');
  fs.writeFileSync(none, 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n', { mode: 0o600 });
  return {
    env: { KUBECONFIG: file },
    noneEnv: { KUBECONFIG: none },
    // Marked in the route registry (functions/*/route.ts) as reaching the orchestrator; and with
    // MLP_KUBE_ENDPOINT=pod (the stand-in's pods share this machine's network, no cluster DNS)
    // apps-endpoint, which then reads the ready pod's address from the API.
    needs: (route) => Boolean(route.orchestrator) || (endpointMode === 'pod' && route.name === 'apps-endpoint'),
  };
}
