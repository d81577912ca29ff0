import * as tf from '@tensorflow/tfjs';
import t, { type Test } from 'tap';
import { startTestPlatform, type Answer } from '../helpers/platform.js';
import { ckptOf, endedJob, modelSettled, tinyModel, userOn } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

// The tenant document once grew without bound: nothing bounded how many objects one user
// could make the platform hold, and empty datasets (size 0) used no quota at all, so 1,500 of them
// were created one after another. Seen failing on 57e3bf8 before the fix: with
// MLP_MAX_OBJECTS_PER_USER=3 the fourth empty dataset was created (201). Now each kind is capped
// per user with a clear 403; empty datasets count like any other.
//
// MLP_JOB_SANDBOX=off: what is tested here is the platform's side, whatever confines the job.
function refused(t: Test, a: Answer, msg: RegExp, why = 'refused') {
  t.equal(a.status, 403, `${why}: 403 (got ${a.status} ${a.text})`);
  t.match(a.json, { msg });
}

tf.enableProdMode(); // no "install tfjs-node" banner in the test output

t.test('objects per user are capped, each kind apart', async (t) => {
  const p = await startTestPlatform({ MLP_MAX_OBJECTS_PER_USER: '3', MLP_TENANT_CPU: '4', MLP_TENANT_RAM: '4000', MLP_JOB_SANDBOX: 'off' });
  t.teardown(() => p.close());
  const tokens = { alice: await userOn(p, 'alice'), bob: await userOn(p, 'bob') };
  type User = keyof typeof tokens;
  const api = (user: User, method: string, suffix: string, body?: unknown) => p.call(method, `/api/v1/users/${user}/${suffix}`, { token: tokens[user], body });
  const created = async (t: Test, a: Promise<Answer>) => {
    const answer = await a;
    t.equal(answer.status, 201, `created (${answer.text})`);
  };
  const gone = (user: User, suffix: string, kind: string) =>
    until(
      async () => (await api(user, 'GET', suffix)).status,
      (s) => s === 403,
      `${user}'s ${suffix} deleted`,
      {
        before: () => p.call('POST', `/api/v1/reconcile/${kind}`, { token: p.deps.serviceToken }),
      },
    );

  t.test('datasets, empty ones included', async (t) => {
    for (const name of ['a', 'b', 'c']) await created(t, api('alice', 'POST', 'datasets', { name, size: 0 }));
    refused(t, await api('alice', 'POST', 'datasets', { name: 'd', size: 10 }), /^you have 3 datasets, the most one user may have; delete some first$/);
    t.equal(((await api('alice', 'GET', 'datasets')).json as unknown[]).length, 3, 'the refusal created nothing');
    await created(t, api('bob', 'POST', 'datasets', { name: 'a', size: 0 }));
    t.equal((await api('alice', 'PUT', 'datasets/a:heartbeat', { state: 'ready', progress: 100 })).status, 200);
    t.match((await api('alice', 'DELETE', 'datasets/a')).json, { state: 'deleting' });
    refused(t, await api('alice', 'POST', 'datasets', { name: 'd', size: 10 }), /you have 3 datasets/, 'one being deleted still counts');
    await gone('alice', 'datasets/a', 'datasets');
    await created(t, api('alice', 'POST', 'datasets', { name: 'd', size: 10 }));
  });

  t.test('jobs', async (t) => {
    for (const name of ['src', 'two', 'three']) await endedJob(p, tokens.alice, 'alice', name);
    refused(t, await api('alice', 'POST', 'jobs', { name: 'four', entry: 'done.mjs', cpu: 0.1, ram: 100 }), /^you have 3 jobs, the most one user may have; delete some first$/);
    t.equal(((await api('alice', 'GET', 'jobs')).json as unknown[]).length, 3, 'the refusal created nothing');
    t.match(await endedJob(p, tokens.bob, 'bob', 'src'), { state: 'finished' }, "another user's jobs are not affected");
    t.match((await api('alice', 'DELETE', 'jobs/two')).json, { state: 'deleting' });
    await gone('alice', 'jobs/two', 'jobs');
    await created(t, api('alice', 'POST', 'jobs', { name: 'four', entry: 'done.mjs', cpu: 0.1, ram: 100 }));
  });

  t.test('models', async (t) => {
    for (const user of ['alice', 'bob'] as const) await tinyModel(ckptOf(p, user, 'src'));
    for (const name of ['ma', 'mb', 'mc']) await created(t, api('alice', 'POST', 'models', { name, src: 'src' }));
    refused(t, await api('alice', 'POST', 'models', { name: 'md', src: 'src' }), /^you have 3 models, the most one user may have; delete some first$/);
    await created(t, api('bob', 'POST', 'models', { name: 'ma', src: 'src' }));
    t.match(await modelSettled(p, tokens.alice, 'alice', 'ma'), { state: 'ready' });
    t.match((await api('alice', 'DELETE', 'models/ma')).json, { state: 'deleting' });
    await gone('alice', 'models/ma', 'models');
    await created(t, api('alice', 'POST', 'models', { name: 'md', src: 'src' }));
    t.match(await modelSettled(p, tokens.alice, 'alice', 'mb'), { state: 'ready' });
  });

  t.test('apps', async (t) => {
    for (const name of ['aa', 'ab', 'ac']) await created(t, api('alice', 'POST', 'apps', { name, model_name: 'mb', cpu: 0.1, ram: 100 }));
    refused(t, await api('alice', 'POST', 'apps', { name: 'ad', model_name: 'mb', cpu: 0.1, ram: 100 }), /^you have 3 apps, the most one user may have; delete some first$/);
    t.equal((await p.deps.store.collection('app_port').find()).length, 3, 'the refusal claimed no port');
  });
});
