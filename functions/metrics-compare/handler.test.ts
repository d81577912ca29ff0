import t from 'tap';
import { begin, store } from '../../shared/metrics/store.js';
import { thin } from '../../shared/metrics/compare.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

const metric = (name: string, epoch: number) => ({ user: 'alice', name, epoch, accuracy: epoch / 100, loss: 1 - epoch / 100, progress: epoch });

t.test("each asked job's metrics in epoch order; a job without any gives []", async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await begin(deps, 'alice', 'a', 'ua');
  await begin(deps, 'alice', 'b', 'ub');
  for (const epoch of [2, 0, 1]) await store(deps, 'ua', metric('a', epoch));
  await store(deps, 'ub', metric('b', 0));
  const got = await invoke(route, handle, deps, { path: '/api/v1/users/alice/job_metrics', headers, query: { jobs: 'a,b,nothing,a' } });
  t.equal(got.status, 200);
  const body = got.body as Record<string, { epoch: number; name: string }[]>;
  t.same(Object.keys(body), ['a', 'b', 'nothing'], 'each job once, in the order asked');
  t.same(
    body.a?.map((m) => m.epoch),
    [0, 1, 2],
  );
  t.same(body.b, [{ user: 'alice', name: 'b', epoch: 0, accuracy: 0, loss: 1, progress: 0 }]);
  t.same(body.nothing, []);
});

t.test("another user's jobs are not reachable: the path's user is the owner's", async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await userWithToken(deps, 'bob');
  await begin(deps, 'bob', 'secret', 'ub');
  await store(deps, 'ub', { ...metric('secret', 0), user: 'bob' });
  t.equal((await invoke(route, handle, deps, { path: '/api/v1/users/bob/job_metrics', headers, query: { jobs: 'secret' } })).status, 403);
  t.same((await invoke(route, handle, deps, { path: '/api/v1/users/alice/job_metrics', headers, query: { jobs: 'secret' } })).body, { secret: [] });
});

t.test('bad lists are refused in plain words', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const ask = async (query: Record<string, string>) => invoke(route, handle, deps, { path: '/api/v1/users/alice/job_metrics', headers, query });
  t.match((await ask({})).body, { msg: /query "jobs" is missing/ });
  t.match((await ask({ jobs: 'a,B' })).body, { msg: /"B" is not a job name/ });
  t.match((await ask({ jobs: 'a,' })).body, { msg: /"" is not a job name/ });
  const many = Array.from({ length: 101 }, (_, i) => `j${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`).join(',');
  t.match((await ask({ jobs: many })).body, { msg: /names 101 jobs; at most 100/ });
  t.match((await ask({ jobs: 'a', points: '1' })).body, { msg: /query "points" must be an integer from 2 to 10000/ });
  t.equal((await ask({ jobs: 'a', points: '10000' })).status, 200);
});

t.test('long histories are thinned evenly to ?points=, keeping the first and the last', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await begin(deps, 'alice', 'long', 'ul');
  for (let epoch = 0; epoch < 50; epoch++) await store(deps, 'ul', metric('long', epoch));
  const got = (await invoke(route, handle, deps, { path: '/api/v1/users/alice/job_metrics', headers, query: { jobs: 'long', points: '5' } })).body as Record<string, { epoch: number }[]>;
  t.same(
    got.long?.map((m) => m.epoch),
    [0, 12, 25, 37, 49],
  );
  t.same(thin([1, 2, 3], 5), [1, 2, 3], 'a short list is kept whole');
});
