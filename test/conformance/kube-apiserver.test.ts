import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import { kubeConfig as config, startTestKube } from '../helpers/kube.js';

// A real kube-apiserver (on kine/SQLite, RBAC on) started by scripts/infra/kube.mjs, driven
// through @kubernetes/client-node as the Kubernetes orchestrator will be. No kubelet runs:
// pods stay Pending, and the test plays the kubelet by patching pod status.
// npm test builds it on its first run (~10 min, then cached) and runs this; alone:
// `npm run test:kube` builds once (cached in ~/.cache/mlp-infra/kube-<version>/) and runs it.

const status = (err: unknown): number | undefined => (err as { code?: number }).code;

if (!process.env.MLP_TEST_KUBE) {
  t.plan(0, 'MLP_TEST_KUBE not set (npm test and npm run test:kube set it; MLP_TEST_INFRA=none does not)');
} else {
  const kube = await startTestKube();
  t.teardown(() => kube.stop());
  const kc = config(kube, kube.token);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
  const namespace = `mlp-test-${process.pid}`;
  const labels = { 'app.kubernetes.io/managed-by': 'mlp', 'mlp/user': 'alice' };
  const pod = (name: string, job: string): k8s.V1Pod => ({
    metadata: { name, labels: { ...labels, 'mlp/job': job } },
    spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'mlp/job-runtime:test', command: ['node', 'train.mjs'] }] },
  });

  t.test('namespace and pods are created; a pod stays Pending (no kubelet); list by label', async (t) => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    const created = await core.createNamespacedPod({ namespace, body: pod('train-1', 'j1') });
    t.ok(created.metadata?.uid, 'the server gave the pod a uid');
    t.equal(created.status?.phase, 'Pending');
    await core.createNamespacedPod({ namespace, body: pod('train-2', 'j2') });
    try {
      await core.createNamespacedPod({ namespace, body: pod('train-1', 'j1') });
      t.fail('a second pod of the same name is refused');
    } catch (err) {
      t.equal(status(err), 409, 'the same name again: 409 Conflict');
    }
    const one = await core.listNamespacedPod({ namespace, labelSelector: 'mlp/user=alice,mlp/job=j1' });
    t.same(
      one.items.map((p) => p.metadata?.name),
      ['train-1'],
      'selector on mlp/job picks one pod',
    );
    const both = await core.listNamespacedPod({ namespace, labelSelector: 'mlp/user=alice' });
    t.same(both.items.map((p) => p.metadata?.name).sort(), ['train-1', 'train-2']);
    const none = await core.listNamespacedPod({ namespace, labelSelector: 'mlp/user=bob' });
    t.equal(none.items.length, 0);
  });

  t.test('a watch from the list resourceVersion sees a status patch (the kubelet role)', async (t) => {
    const list = await core.listNamespacedPod({ namespace, labelSelector: 'mlp/job=j1' });
    const rv = list.metadata?.resourceVersion;
    t.ok(rv, 'the list carries a resourceVersion');
    const seen: { type: string; phase?: string; rv?: string }[] = [];
    let resolveSeen!: () => void;
    const running = new Promise<void>((resolve) => {
      resolveSeen = resolve;
    });
    const watch = new k8s.Watch(kc);
    const ac = await watch.watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: 'mlp/job=j1', resourceVersion: rv, allowWatchBookmarks: false },
      (type: string, obj: k8s.V1Pod) => {
        seen.push({ type, phase: obj.status?.phase, rv: obj.metadata?.resourceVersion });
        if (type === 'MODIFIED' && obj.status?.phase === 'Running') resolveSeen();
      },
      (err: unknown) => {
        if (err && (err as Error).name !== 'AbortError') t.comment(`watch ended: ${String(err)}`);
      },
    );
    t.teardown(() => ac.abort());
    const patched = await core.patchNamespacedPodStatus(
      {
        namespace,
        name: 'train-1',
        body: [
          { op: 'replace', path: '/status/phase', value: 'Running' },
          { op: 'add', path: '/status/hostIP', value: '127.0.0.1' },
        ],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    t.equal(patched.status?.phase, 'Running');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      running,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no MODIFIED/Running event in 15 s; saw ${JSON.stringify(seen)}`)), 15_000);
      }),
    ]).finally(() => clearTimeout(timer));
    t.same(
      seen.map((e) => e.type),
      ['MODIFIED'],
      'exactly the change after the list: nothing replayed, nothing of other pods',
    );
    t.equal(seen[0]?.rv, patched.metadata?.resourceVersion, 'the event carries the patched resourceVersion');
  });

  t.test('RBAC is enforced: the restricted token gets only what a Role grants', async (t) => {
    const restricted = config(kube, kube.restrictedToken).makeApiClient(k8s.CoreV1Api);
    try {
      await restricted.listNamespacedPod({ namespace });
      t.fail('listing pods without a role is refused');
    } catch (err) {
      t.equal(status(err), 403, 'no role: 403 Forbidden');
    }
    await rbac.createNamespacedRole({
      namespace,
      body: {
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'pod-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mlp-restricted' }],
      },
    });
    // The RBAC authorizer reads roles through an informer: allow it a moment to see the binding.
    let names: string[] | undefined;
    for (let i = 0; i < 50 && !names; i++) {
      try {
        names = (await restricted.listNamespacedPod({ namespace })).items.map((p) => p.metadata?.name ?? '');
      } catch (err) {
        if (status(err) !== 403) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    t.same(names?.sort(), ['train-1', 'train-2'], 'with the Role bound, listing works');
    try {
      await restricted.deleteNamespacedPod({ namespace, name: 'train-2' });
      t.fail('deleting is not granted');
    } catch (err) {
      t.equal(status(err), 403, 'a verb the Role lacks: 403');
    }
    try {
      await restricted.listNamespacedPod({ namespace: 'default' });
      t.fail('another namespace is not granted');
    } catch (err) {
      t.equal(status(err), 403, 'another namespace: 403');
    }
  });

  t.test('deleting pods by label', async (t) => {
    await core.deleteCollectionNamespacedPod({ namespace, labelSelector: 'mlp/user=alice', gracePeriodSeconds: 0 });
    // No kubelet confirms termination, so graceful deletion would wait forever: grace 0 removes at once.
    const left = await core.listNamespacedPod({ namespace, labelSelector: 'mlp/user=alice' });
    t.equal(left.items.length, 0, 'no pod is left');
  });
}
