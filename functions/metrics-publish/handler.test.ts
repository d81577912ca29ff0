import t from 'tap';
import { jobsCollection } from '../../shared/repos/jobs.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('publishes to the metrics topic with the job id header; path and body must agree', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await jobsCollection(deps.store).insert({ _id: 'alice/train', uid: 'u1', name: 'train', user: 'alice', tenant: 'default', runtime: 'tf', entry: 'x.mjs', gpu: 0, cpu: 1, ram: 100, state: 'running', progress: 0, res: 'held' });
  const seen: { key: string; headers: Record<string, string> }[] = [];
  await deps.bus.subscribe({ topic: deps.config.metricsTopic, group: 't', fromBeginning: true }, async (m) => void seen.push(m));
  const path = '/api/v1/users/alice/job_metrics/train';
  t.equal((await invoke(route, handle, deps, { path, headers, body: { epoch: 1, accuracy: 0.5, loss: 1, progress: 10 } })).status, 200);
  for (let i = 0; i < 50 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.match(seen[0], { key: 'alice/train', headers: { 'mlp-job-id': 'u1' } });
  t.match((await invoke(route, handle, deps, { path, headers, body: { name: 'other', epoch: 1, accuracy: 0.5, loss: 1, progress: 10 } })).body, { msg: /"name" must be train/ });
  const old = bearer((await deps.tokens.issue({ sub: 'alice', kind: 'job', job: 'train', job_id: 'u0' })).token);
  t.match((await invoke(route, handle, deps, { path, headers: old, body: { epoch: 1, accuracy: 0.5, loss: 1, progress: 10 } })).body, { msg: /earlier job/ });
});
