import t from 'tap';
import { MAX_EPOCHS, PUBLISH_LIMIT } from '../../shared/metrics/limits.js';
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

t.test('an epoch past the bound and publishes past the job\'s rate are refused, 403 {msg}', async (t) => {
  const deps = await testDeps(t, {}, { now: () => new Date(0) });
  const headers = await userWithToken(deps, 'alice');
  for (const name of ['train', 'other']) {
    await jobsCollection(deps.store).insert({ _id: `alice/${name}`, uid: `u-${name}`, name, user: 'alice', tenant: 'default', runtime: 'tf', entry: 'x.mjs', gpu: 0, cpu: 1, ram: 100, state: 'running', progress: 0, res: 'held' });
  }
  const publish = (epoch: number, name = 'train') => invoke(route, handle, deps, { path: `/api/v1/users/alice/job_metrics/${name}`, headers, body: { epoch, accuracy: 0.5, loss: 1, progress: 10 } });
  t.match(await publish(MAX_EPOCHS), { status: 403, body: { msg: /at most 10000 epochs/ } });
  const statuses: number[] = [];
  for (let i = 0; i < PUBLISH_LIMIT.burst + 3; i++) statuses.push((await publish(i)).status);
  t.equal(statuses.filter((s) => s === 200).length, PUBLISH_LIMIT.burst, 'the burst passes while the clock stands still');
  t.match(await publish(0), { status: 403, body: { msg: /too many metrics for job train/ } });
  t.equal((await publish(0, 'other')).status, 200, 'each job has its own rate');
});
