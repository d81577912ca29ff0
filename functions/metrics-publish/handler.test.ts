import t from 'tap';
import { MAX_BODY_BYTES } from '../../shared/http/server.js';
import { MAX_BATCH, MAX_EPOCHS, PUBLISH_LIMIT } from '../../shared/metrics/bounds.js';
import { jobsCollection } from '../../shared/records/jobs.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('publishes to the metrics topic with the job id header; path and body must agree', async (t) => {
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

t.test("an epoch past the bound and publishes past the job's rate are refused, 403 {msg}", async (t) => {
  const deps = await testDeps(t, {}, { now: () => new Date(0) });
  const headers = await userWithToken(deps, 'alice');
  for (const name of ['train', 'other']) {
    await jobsCollection(deps.store).insert({
      _id: `alice/${name}`,
      uid: `u-${name}`,
      name,
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
  }
  const publish = (epoch: number, name = 'train') => invoke(route, handle, deps, { path: `/api/v1/users/alice/job_metrics/${name}`, headers, body: { epoch, accuracy: 0.5, loss: 1, progress: 10 } });
  t.match(await publish(MAX_EPOCHS), { status: 403, body: { msg: /at most 10000 epochs/ } });
  const statuses: number[] = [];
  for (let i = 0; i < PUBLISH_LIMIT.burst + 3; i++) statuses.push((await publish(i)).status);
  t.equal(statuses.filter((s) => s === 200).length, PUBLISH_LIMIT.burst, 'the burst passes while the clock stands still');
  t.match(await publish(0), { status: 403, body: { msg: /too many metrics for job train/ } });
  t.equal((await publish(0, 'other')).status, 200, 'each job has its own rate');
});

t.test('a batch: published in order in one send, all or nothing, the refused element named', async (t) => {
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
  const seen: { key: string; value: string; headers: Record<string, string> }[] = [];
  await deps.bus.subscribe({ topic: deps.config.metricsTopic, group: 't', fromBeginning: true }, async (m) => void seen.push(m));
  const sends: number[] = [];
  const publish = deps.bus.publish.bind(deps.bus);
  deps.bus.publish = async (topic, messages) => (sends.push(messages.length), publish(topic, messages));
  const path = '/api/v1/users/alice/job_metrics/train';
  const metric = (epoch: number) => ({ epoch, accuracy: epoch / MAX_BATCH, loss: 1 - epoch / MAX_BATCH, progress: 10 });
  const post = (body: unknown, h = headers) => invoke(route, handle, deps, { path, headers: h, body });
  const settle = async (n: number) => {
    for (let i = 0; i < 100 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  };

  const full = Array.from({ length: MAX_BATCH }, (_, i) => metric(i));
  t.ok(
    Buffer.byteLength(JSON.stringify(full.map((m) => ({ ...m, user: 'a'.repeat(50), name: 'b'.repeat(50), accuracy: -1.2345678901234567e-100, loss: 1.2345678901234567e100 })))) < MAX_BODY_BYTES / 2,
    'the largest batch fits the body limit twice over',
  );
  t.match(await post(full), { status: 200, body: '' });
  await settle(MAX_BATCH);
  t.same(sends, [MAX_BATCH], 'one send of the whole batch');
  t.same(
    seen.map((m) => (JSON.parse(m.value) as { epoch: number }).epoch),
    full.map((m) => m.epoch),
    'in order',
  );
  t.ok(
    seen.every((m) => m.key === 'alice/train' && m.headers['mlp-job-id'] === 'u1'),
    'each with the key user/job and the job id header',
  );
  t.same(JSON.parse(seen[7]?.value ?? '{}'), { ...metric(7), user: 'alice', name: 'train' }, 'user and name added from the path the token was checked against');

  const refused = async (body: unknown, msg: RegExp, what: string) => {
    const before = sends.length;
    const a = await post(body);
    t.equal(a.status, 403, what);
    t.match(a.body, { msg }, what);
    t.same(Object.keys(a.body as object), ['msg'], `${what}: {msg}`);
    t.equal(sends.length, before, `${what}: nothing of it published`);
  };
  await refused([], /body must hold at least 1 element \(it holds 0\)/, 'an empty batch');
  await refused([...full, metric(0)], /body must hold at most 1000 elements \(it holds 1001\)/, '1001 metrics');
  await refused([metric(0), metric(1), { ...metric(2), loss: 'low' }, metric(3)], /^element 2 of the body: field "loss" must be a number$/, 'an element of the wrong type');
  await refused([metric(0), { ...metric(1), step: 3 }], /^element 1 of the body has an unknown field "step"$/, 'an unknown field');
  await refused([metric(0), null], /^element 1 of the body must be a JSON object, not null$/, 'null');
  await refused([metric(0), { epoch: 1, accuracy: 0.5, loss: 1 }], /^element 1 of the body is missing field "progress"$/, 'a missing field');
  await refused([metric(0), metric(1), metric(2), { ...metric(MAX_EPOCHS) }], /^element 3 of the body: epoch 10000 is too large/, 'an epoch past the bound, last');
  await refused([metric(0), { ...metric(1), name: 'other' }], /^element 1 of the body: field "name" must be train, the job in the path$/, 'another job claimed');
  await refused([{ ...metric(0), user: 'bob' }, metric(1)], /^element 0 of the body: field "user" must be alice, the user in the path$/, 'another user claimed');
  await refused([[metric(0)]], /^element 0 of the body must be a JSON object$/, 'a nested array');

  // With the job's own token: user, job and job id are the token's; a body naming them the same is fine.
  const job = bearer((await deps.tokens.issue({ sub: 'alice', kind: 'job', job: 'train', job_id: 'u1' })).token);
  const count = seen.length;
  t.equal((await post([{ ...metric(5), user: 'alice', name: 'train' }, metric(6)], job)).status, 200);
  await settle(count + 2);
  t.same(
    seen.slice(count).map((m) => [m.key, m.headers['mlp-job-id'], JSON.parse(m.value)]),
    [
      ['alice/train', 'u1', { ...metric(5), user: 'alice', name: 'train' }],
      ['alice/train', 'u1', { ...metric(6), user: 'alice', name: 'train' }],
    ],
  );
  const other = bearer((await deps.tokens.issue({ sub: 'alice', kind: 'job', job: 'other', job_id: 'u2' })).token);
  t.match(await post([metric(1)], other), { status: 403, body: { msg: /belongs to job other, not train/ } }, "another job's token cannot publish for this job");
  const old = bearer((await deps.tokens.issue({ sub: 'alice', kind: 'job', job: 'train', job_id: 'u0' })).token);
  t.match(await post([metric(1)], old), { status: 403, body: { msg: /earlier job/ } }, "nor an earlier job's of the same name");
  t.same(sends.length, 2, 'none of the refused batches was sent');
});

t.test("a batch takes one token of the job's rate, as a single metric does", async (t) => {
  const deps = await testDeps(t, {}, { now: () => new Date(0) });
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
  const batch = Array.from({ length: MAX_BATCH }, (_, epoch) => ({ epoch, accuracy: 0.5, loss: 1, progress: 10 }));
  const post = () => invoke(route, handle, deps, { path: '/api/v1/users/alice/job_metrics/train', headers, body: batch });
  const statuses: number[] = [];
  for (let i = 0; i < PUBLISH_LIMIT.burst; i++) statuses.push((await post()).status);
  t.ok(
    statuses.every((s) => s === 200),
    'the burst of batches passes',
  );
  t.match(await post(), { status: 403, body: { msg: /too many metrics for job train: .*a batch counts as one/ } });
});
