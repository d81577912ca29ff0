import { readFileSync, readdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { kubeConfig, startTestKube } from '../helpers/kube.js';

// The generated least-privilege RBAC (k8s/10-rbac.yaml) on a real kube-apiserver with RBAC
// authorization (scripts/infra/kube.mjs): applied as generated, then a token of the
// mlp-orchestrator ServiceAccount (TokenRequest API) may do exactly the orchestrator's verbs in
// namespace mlp and nothing else. No kubelet is needed: authorization is decided by the API server.

const ROOT = path.resolve(import.meta.dirname, '../..');
const NS = 'mlp';
const OTHER = 'mlp-other';

type Obj = k8s.KubernetesObject & Record<string, unknown>;
const generated = (dir: string): Obj[] =>
  readdirSync(path.join(ROOT, dir))
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(path.join(ROOT, dir, f), 'utf8')).map((d) => d.toJS() as Obj));

if (!process.env.MLP_TEST_KUBE) {
  t.plan(0, 'MLP_TEST_KUBE not set (npm test sets it; needs the kube-apiserver of scripts/infra/kube.mjs)');
} else {
  const kube = await startTestKube();
  t.teardown(() => kube.stop());
  const admin = kubeConfig(kube, kube.token);
  const adminCore = admin.makeApiClient(k8s.CoreV1Api);
  const ca = readFileSync(kube.caFile);

  /** Status of one request made with `token` (the body of a refusal names what was refused). */
  const statusOf = (token: string, method: string, urlPath: string, body?: unknown): Promise<number> =>
    new Promise((resolve, reject) => {
      const url = new URL(urlPath, kube.url);
      const contentType = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
      const req = https.request(url, { method, ca, headers: { authorization: `Bearer ${token}`, 'content-type': contentType } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });

  const k8sObjects = generated('k8s');
  const pick = (kind: string) => k8sObjects.filter((o) => o.kind === kind);
  const rbacObjects = [...pick('Namespace'), ...pick('ServiceAccount'), ...pick('Role'), ...pick('RoleBinding')];

  t.test('the generated Namespace, ServiceAccount, Role and RoleBinding apply as they are', async (t) => {
    t.same(
      rbacObjects.map((o) => `${o.kind}/${o.metadata?.name}`),
      ['Namespace/mlp', 'ServiceAccount/mlp-orchestrator', 'Role/mlp-orchestrator', 'RoleBinding/mlp-orchestrator'],
    );
    const objects = k8s.KubernetesObjectApi.makeApiClient(admin);
    for (const o of rbacObjects) {
      const created = await objects.create(o);
      t.ok(created.metadata?.uid, `${o.kind} ${o.metadata?.name} created`);
    }
    await adminCore.createNamespace({ body: { metadata: { name: OTHER } } });
    // No service-account controller runs here: make the namespace's default account by hand.
    await adminCore.createNamespacedServiceAccount({ namespace: NS, body: { metadata: { name: 'default' } } });
  });

  const mint = async (name: string): Promise<string> => {
    const answer = await adminCore.createNamespacedServiceAccountToken({ name, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 600 } } });
    const token = answer.status?.token;
    if (!token) throw new Error(`no token for ${name}`);
    return token;
  };

  t.test('mlp-orchestrator does each verb the orchestrator uses, in mlp', async (t) => {
    const token = await mint('mlp-orchestrator');
    t.match(token, /^ey/, 'TokenRequest gave a JWT');
    const kc = kubeConfig(kube, token);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const net = kc.makeApiClient(k8s.NetworkingV1Api);
    const labels = { 'app.kubernetes.io/managed-by': 'mlp', 'mlp/user': 'alice' };
    const podSpec = { restartPolicy: 'Never', automountServiceAccountToken: false, containers: [{ name: 'job', image: 'mlp/runtime-tf:0.1.0', command: ['node', 'train.mjs'] }] };

    // Watches first, so they see the creates below.
    const seen: string[] = [];
    const watch = new k8s.Watch(kc);
    const watches = await Promise.all(
      [`/api/v1/namespaces/${NS}/pods`, `/apis/apps/v1/namespaces/${NS}/deployments`].map((p) =>
        watch.watch(
          p,
          { labelSelector: 'mlp/user=alice' },
          (type: string, obj: k8s.KubernetesObject) => seen.push(`${type} ${obj.kind ?? p.split('/').pop()} ${obj.metadata?.name}`),
          () => undefined,
        ),
      ),
    );
    t.teardown(() => watches.forEach((w) => w.abort()));

    const pod = await core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'mlp-job-1', labels }, spec: podSpec } });
    t.equal(pod.metadata?.name, 'mlp-job-1', 'pods: create');
    t.equal((await core.readNamespacedPod({ name: 'mlp-job-1', namespace: NS })).metadata?.name, 'mlp-job-1', 'pods: get');
    t.equal((await core.listNamespacedPod({ namespace: NS, labelSelector: 'mlp/user=alice' })).items.length, 1, 'pods: list');
    t.equal(await statusOf(token, 'PATCH', `/api/v1/namespaces/${NS}/pods/mlp-job-1`, { metadata: { annotations: { 'mlp/stopping': 'true' } } }), 200, 'pods: patch');

    const deployment = await apps.createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'mlp-app-1', labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: { 'app.kubernetes.io/instance': 'a1' } },
          template: { metadata: { labels: { ...labels, 'app.kubernetes.io/instance': 'a1' } }, spec: { ...podSpec, restartPolicy: 'Always' } },
        },
      },
    });
    t.equal(deployment.metadata?.name, 'mlp-app-1', 'deployments: create');
    t.ok((await apps.readNamespacedDeployment({ name: 'mlp-app-1', namespace: NS })).metadata?.uid, 'deployments: get');
    t.equal((await apps.listNamespacedDeployment({ namespace: NS })).items.length, 1, 'deployments: list');
    t.equal(await statusOf(token, 'PATCH', `/apis/apps/v1/namespaces/${NS}/deployments/mlp-app-1`, { metadata: { annotations: { 'mlp/x': '1' } } }), 200, 'deployments: patch');

    await core.createNamespacedService({ namespace: NS, body: { metadata: { name: 'mlp-app-1', labels }, spec: { selector: { 'app.kubernetes.io/instance': 'a1' }, ports: [{ port: 31000 }] } } });
    t.pass('services: create');
    t.ok((await core.readNamespacedService({ name: 'mlp-app-1', namespace: NS })).spec?.clusterIP, 'services: get');
    t.equal((await core.listNamespacedService({ namespace: NS, labelSelector: 'mlp/user=alice' })).items.length, 1, 'services: list');

    await net.createNamespacedIngress({
      namespace: NS,
      body: {
        metadata: { name: 'mlp-app-1', labels },
        spec: { rules: [{ http: { paths: [{ path: '/alice/a1', pathType: 'Prefix', backend: { service: { name: 'mlp-app-1', port: { number: 31000 } } } }] } }] },
      },
    });
    t.pass('ingresses: create');
    t.ok((await net.readNamespacedIngress({ name: 'mlp-app-1', namespace: NS })).metadata?.uid, 'ingresses: get');
    t.equal((await net.listNamespacedIngress({ namespace: NS })).items.length, 1, 'ingresses: list');

    // Watch events arrive asynchronously; wait for them without a time bound of our own.
    while (!(seen.includes('ADDED Pod mlp-job-1') && seen.some((s) => s.startsWith('ADDED') && s.endsWith('mlp-app-1')))) await new Promise((r) => setTimeout(r, 50));
    t.pass('pods and deployments: watch');

    await net.deleteNamespacedIngress({ name: 'mlp-app-1', namespace: NS });
    t.pass('ingresses: delete');
    await core.deleteNamespacedService({ name: 'mlp-app-1', namespace: NS });
    t.pass('services: delete');
    await apps.deleteNamespacedDeployment({ name: 'mlp-app-1', namespace: NS });
    t.pass('deployments: delete');
    await core.deleteNamespacedPod({ name: 'mlp-job-1', namespace: NS, gracePeriodSeconds: 0 });
    t.pass('pods: delete');
    await core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'mlp-job-2', labels }, spec: podSpec } });
    await core.deleteCollectionNamespacedPod({ namespace: NS, labelSelector: 'mlp/user=alice', gracePeriodSeconds: 0 });
    t.pass('pods: deletecollection');
  });

  t.test('mlp-orchestrator is refused everything else', async (t) => {
    const token = await mint('mlp-orchestrator');
    // A pod and objects to aim at, made by the admin.
    await adminCore.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'target' }, spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox:1.36' }] } } });
    await adminCore.createNamespacedPod({
      namespace: OTHER,
      body: { metadata: { name: 'target' }, spec: { automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox:1.36' }] } },
    });
    const ns = `/api/v1/namespaces/${NS}`;
    const deps = `/apis/apps/v1/namespaces/${NS}/deployments`;
    const refused: [string, string, unknown?][] = [
      ['GET', `${ns}/secrets`],
      ['POST', `${ns}/secrets`, { metadata: { name: 's' }, stringData: { a: 'b' } }],
      ['GET', `${ns}/secrets/mlp-secret`],
      ['GET', `${ns}/configmaps`],
      ['GET', `${ns}/configmaps/mlp-config`],
      ['POST', `${ns}/configmaps`, { metadata: { name: 'c' } }],
      ['POST', `${ns}/pods/target/exec?command=sh&stdout=true`],
      ['GET', `${ns}/pods/target/exec?command=sh&stdout=true`],
      ['POST', `${ns}/pods/target/attach?stdout=true`],
      ['GET', `${ns}/pods/target/log`],
      ['POST', `${ns}/pods/target/portforward`],
      ['PATCH', `${ns}/pods/target/status`, { status: { phase: 'Succeeded' } }],
      ['PUT', `${ns}/pods/target`, { metadata: { name: 'target', namespace: NS }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } }],
      ['POST', `${ns}/pods/target/eviction`, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'target', namespace: NS } }],
      ['GET', '/api/v1/nodes'],
      ['GET', '/api/v1/namespaces'],
      ['POST', '/api/v1/namespaces', { metadata: { name: 'evil' } }],
      ['DELETE', `/api/v1/namespaces/${NS}`],
      ['GET', '/api/v1/pods'],
      ['GET', `/api/v1/namespaces/${OTHER}/pods`],
      ['GET', `/api/v1/namespaces/${OTHER}/pods/target`],
      ['POST', `/api/v1/namespaces/${OTHER}/pods`, { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } }],
      ['DELETE', `/api/v1/namespaces/${OTHER}/pods/target`],
      ['GET', `/apis/apps/v1/namespaces/${OTHER}/deployments`],
      ['GET', `/api/v1/namespaces/${OTHER}/services`],
      ['GET', `/apis/networking.k8s.io/v1/namespaces/${OTHER}/ingresses`],
      ['PUT', `${deps}/x`, { metadata: { name: 'x', namespace: NS } }],
      ['DELETE', deps],
      ['PUT', `${deps}/x/scale`, { metadata: { name: 'x', namespace: NS }, spec: { replicas: 5 } }],
      ['PATCH', `${ns}/services/x`, { metadata: { labels: { a: 'b' } } }],
      ['PUT', `${ns}/services/x`, { metadata: { name: 'x', namespace: NS } }],
      ['GET', `${ns}/services?watch=true`],
      ['DELETE', `${ns}/services`],
      ['PATCH', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses/x`, { metadata: { labels: { a: 'b' } } }],
      ['GET', `/apis/networking.k8s.io/v1/namespaces/${NS}/ingresses?watch=true`],
      ['GET', `/apis/apps/v1/namespaces/${NS}/statefulsets`],
      ['GET', `/apis/batch/v1/namespaces/${NS}/jobs`],
      ['POST', `${ns}/serviceaccounts/mlp-orchestrator/token`, { spec: {} }],
      ['GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`],
      [
        'POST',
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`,
        {
          metadata: { name: 'r' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
          subjects: [{ kind: 'ServiceAccount', name: 'mlp-orchestrator', namespace: NS }],
        },
      ],
      [
        'PUT',
        `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/mlp-orchestrator`,
        { metadata: { name: 'mlp-orchestrator', namespace: NS }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
      ],
    ];
    for (const [method, urlPath, body] of refused) t.equal(await statusOf(token, method, urlPath, body), 403, `${method} ${urlPath}: 403`);
    // The same token does pass where the Role allows: a 403 above is the Role, not a broken token.
    t.equal(await statusOf(token, 'GET', `${ns}/pods/target`), 200, "GET its own namespace's pod: 200");
    t.equal(await statusOf(kube.token, 'GET', `${ns}/secrets`), 200, "the admin may list secrets (the 403s are RBAC's)");
  });

  t.test("a function without the ServiceAccount mounts no token, and the namespace's default account may do nothing", async (t) => {
    const services = generated('knative').filter((o) => o.kind === 'Service') as (Obj & { spec: { template: { spec: k8s.V1PodSpec } } })[];
    const plain = services.find((s) => s.metadata?.name === 'mlp-users-get');
    const marked = services.find((s) => s.metadata?.name === 'mlp-jobs-create');
    t.ok(plain && marked, 'knative/users-get.yaml and knative/jobs-create.yaml');
    if (!plain || !marked) return;
    t.equal(plain.spec.template.spec.automountServiceAccountToken, false, 'users-get: automountServiceAccountToken false');
    // Who mounts the token is the ServiceAccount admission plugin and the kubelet; kube.mjs runs
    // without that plugin (no service-account controller makes "default"), so the manifest is what
    // is checked here, and on the server: what the namespace's default account may do.
    t.equal(plain.spec.template.spec.serviceAccountName, undefined, "users-get names no ServiceAccount (the namespace's default)");
    t.equal(marked.spec.template.spec.serviceAccountName, 'mlp-orchestrator', 'jobs-create runs as mlp-orchestrator');
    t.equal(marked.spec.template.spec.automountServiceAccountToken, undefined, 'and mounts its token');
    const defaultToken = await mint('default');
    for (const urlPath of [`/api/v1/namespaces/${NS}/pods`, `/apis/apps/v1/namespaces/${NS}/deployments`, `/api/v1/namespaces/${NS}/services`]) {
      t.equal(await statusOf(defaultToken, 'GET', urlPath), 403, `default account: GET ${urlPath}: 403`);
    }
  });
}
