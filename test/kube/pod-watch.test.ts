import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { startPodWatcher, statusFeed, type PodWatcher } from '../../shared/orchestrator/kube-watch.js';
import type { WorkloadStatus } from '../../shared/orchestrator/port.js';
import { kubeConfig, startTestKube } from '../helpers/kube.js';
import { until as poll } from '../helpers/poll.js';

// The pod watcher (shared/orchestrator/kube-watch.ts) against a real kube-apiserver
// (scripts/infra/kube.mjs). No kubelet here: the test moves pods through their phases by
// patching their status, as a kubelet would.

const JSON_PATCH = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch);

if (!process.env.MLP_TEST_KUBE) {
  t.plan(0, 'MLP_TEST_KUBE not set (npm test and npm run test:kube set it)');
} else {
  const kube = await startTestKube();
  t.teardown(() => kube.stop());
  const kc = kubeConfig(kube, kube.token);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const namespace = `mlp-watch-${process.pid}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const log = createLogger({ component: 'test', sinks: [memorySink()] });

  const createPod = (id: string) =>
    core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: `mlp-job-${id}`, labels: { 'app.kubernetes.io/managed-by': 'mlp', 'app.kubernetes.io/name': 'mlp-job', 'app.kubernetes.io/instance': id } },
        spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'mlp/runtime-tf:0.1.0' }] },
      },
    });
  // A pod of another manager: never reported.
  await core.createNamespacedPod({ namespace, body: { metadata: { name: 'other', labels: { 'app.kubernetes.io/instance': 'other' } }, spec: { containers: [{ name: 'c', image: 'x' }] } } });
  const setPhase = (id: string, phase: 'Running' | 'Succeeded' | 'Failed', exitCode = phase === 'Failed' ? 2 : 0) =>
    core.patchNamespacedPodStatus(
      {
        namespace,
        name: `mlp-job-${id}`,
        body: [
          { op: 'replace', path: '/status/phase', value: phase },
          {
            op: 'add',
            path: '/status/containerStatuses',
            value: [
              {
                name: 'job',
                image: 'mlp/runtime-tf:0.1.0',
                imageID: '',
                ready: phase === 'Running',
                restartCount: 0,
                state: phase === 'Running' ? { running: { startedAt: new Date() } } : { terminated: { exitCode, startedAt: new Date(), finishedAt: new Date() } },
              },
            ],
          },
        ],
      },
      JSON_PATCH,
    );

  /** A watcher and its status feed (as the orchestrator uses them), recording "id:phase". */
  const watched = () => {
    const seen: string[] = [];
    const feed = statusFeed((s: WorkloadStatus) => seen.push(`${s.id}:${s.phase}`));
    const watcher = startPodWatcher({ kubeConfig: kc, namespace, labelSelector: 'app.kubernetes.io/managed-by=mlp', log, onEvent: feed.onEvent, backoff: { baseMs: 50, maxMs: 500 } });
    t.teardown(() => watcher.stop());
    return { seen, watcher };
  };
  const until = async (what: string, ok: () => boolean) => {
    await poll(ok, Boolean, what, { tries: 301 });
  };
  /**
   * Ends a step deterministically: one more change (a fresh pod) goes through the same watch, and
   * events arrive in order, so once it is seen every earlier event has been delivered too.
   */
  let sentinels = 0;
  const settle = async (seen: string[]) => {
    const id = `sentinel${++sentinels}`;
    await createPod(id);
    await until(`${id} seen`, () => seen.includes(`${id}:pending`));
    return real(seen);
  };
  const real = (seen: string[]) => seen.filter((e) => !e.startsWith('sentinel'));

  let first: { seen: string[]; watcher: PodWatcher };

  t.test('list, then watch from the list: every transition once, in order', async (t) => {
    await createPod('a');
    first = watched();
    await first.watcher.synced;
    t.same(first.seen, ['a:pending'], 'the list reports the pod that was there');
    await setPhase('a', 'Running');
    await createPod('b');
    await setPhase('b', 'Running');
    await setPhase('a', 'Succeeded');
    await setPhase('b', 'Failed');
    t.same(await settle(first.seen), ['a:pending', 'a:running', 'b:pending', 'b:running', 'a:succeeded', 'b:failed']);
    t.equal(first.watcher.stats.lists, 1, 'one list');
  });

  t.test('a dropped watch resumes from the last resourceVersion: nothing missed, nothing repeated', async (t) => {
    const { seen, watcher } = first;
    const before = real(seen).length;
    const watches = watcher.stats.watches;
    watcher.dropConnection();
    await createPod('c');
    await setPhase('c', 'Running');
    await createPod('d');
    watcher.dropConnection();
    await setPhase('c', 'Succeeded');
    const after = (await settle(seen)).slice(before);
    t.same(after, ['c:pending', 'c:running', 'd:pending', 'c:succeeded']);
    t.ok(watcher.stats.watches > watches, `it watched again (${watcher.stats.watches - watches} more watches)`);
    t.equal(watcher.stats.lists, 1, 'without re-listing');
    t.equal(watcher.stats.gone, 0);
  });

  t.test('a forced 410 Gone (a resourceVersion the server no longer has) re-lists: nothing missed, nothing repeated', async (t) => {
    const { seen, watcher } = first;
    const mark = real(seen).length;
    // Changes the watch has not seen yet: made while it resumes from a version older than the
    // server's watch window (resourceVersion 1, from before the server started), which the real
    // server answers with 410 Gone.
    await setPhase('d', 'Running');
    watcher.dropConnection('1');
    await createPod('e');
    await core.deleteNamespacedPod({ namespace, name: 'mlp-job-a', gracePeriodSeconds: 0 });
    await until('a re-list after 410', () => watcher.stats.gone > 0 && watcher.stats.lists > 1);
    const after = (await settle(seen)).slice(mark);
    t.same(after, ['d:running', 'e:pending'], 'each change once; the re-listed pods that did not change are not reported again');
    t.ok(watcher.stats.gone >= 1, `the server answered 410 Gone (${watcher.stats.gone})`);
    t.equal(watcher.stats.lists, 2, 'and it re-listed once');
    t.notOk(
      watcher.pods().some((p) => p.metadata?.name === 'mlp-job-a'),
      'the pod deleted meanwhile left the cache',
    );
  });

  t.test('a second watcher started later reports the current state of every pod, once', async (t) => {
    const second = watched();
    await second.watcher.synced;
    const current = await settle(second.seen);
    t.same(current.sort(), ['b:failed', 'c:succeeded', 'd:running', 'e:pending'].sort(), 'the current state, not the history');
    await setPhase('e', 'Running');
    await until('e running', () => second.seen.includes('e:running'));
    t.equal(second.seen.filter((s) => s === 'e:running').length, 1);
    await second.watcher.stop();
  });

  t.test('errors back off and retry until the watcher gets through (here: refused until a Role is bound)', async (t) => {
    const seen: string[] = [];
    const feed = statusFeed((s: WorkloadStatus) => seen.push(`${s.id}:${s.phase}`));
    const watcher = startPodWatcher({
      kubeConfig: kubeConfig(kube, kube.restrictedToken),
      namespace,
      labelSelector: 'app.kubernetes.io/managed-by=mlp',
      log,
      onEvent: feed.onEvent,
      backoff: { baseMs: 20, maxMs: 200 },
    });
    t.teardown(() => watcher.stop());
    await until('refusals', () => watcher.stats.errors >= 3);
    t.equal(watcher.stats.lists, 0, 'nothing listed while refused');
    const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace, body: { metadata: { name: 'watcher' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch'] }] } });
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'watcher' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'watcher' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mlp-restricted' }],
      },
    });
    await watcher.synced;
    t.equal(watcher.stats.lists, 1, 'then it lists');
    t.same(seen.filter((e) => !e.startsWith('sentinel')).sort(), ['b:failed', 'c:succeeded', 'd:running', 'e:running'], 'and reports every pod');
  });
}
