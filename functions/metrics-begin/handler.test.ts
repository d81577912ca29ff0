import t from 'tap';
import { run, store } from '../../shared/metrics/store.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('begin through the adapter, with the service token only', async (t) => {
  const deps = await testDeps(t);
  const path = '/api/v1/users/alice/job_metrics/train:begin';
  const body = { job_id: 'u1' };
  t.equal((await invoke(route, handle, deps, { path, body, headers: bearer('x'.repeat(40)) })).status, 403);
  await store(deps, 'u1', { user: 'alice', name: 'train', epoch: 0, accuracy: 1, loss: 0, progress: 0 });
  t.equal((await invoke(route, handle, deps, { path, body, headers: bearer(deps.serviceToken) })).status, 200);
  const r = await run(deps, 'alice', 'train');
  t.match(r, { job_id: 'u1', running: true });
});
