import t from 'tap';
import { begin, store } from '../../shared/metrics/store.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test("without an upgrade: the current run's metrics in epoch order", async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await jobsCollection(deps.store).insert({
    _id: 'alice/train',
    uid: 'u1',
    name: 'train',
    user: 'alice',
    tenant: 'default',
    runtime: 'tf',
    entry: 'x.mjs',
    gpu: 0,
    cpu: 1,
    ram: 100,
    state: 'running',
    progress: 0,
    res: 'held',
  });
  await begin(deps, 'alice', 'train', 'u1');
  for (const epoch of [2, 0, 1]) await store(deps, 'u1', { user: 'alice', name: 'train', epoch, accuracy: epoch, loss: 0, progress: 0 });
  const a = await invoke(route, handle, deps, { path: '/api/v1/users/alice/job_metrics/train', headers });
  t.same(
    (a.body as { epoch: number }[]).map((m) => m.epoch),
    [0, 1, 2],
  );
});
