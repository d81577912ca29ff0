import t from 'tap';
import { startTestPlatform } from '../helpers/platform.js';
import { userOn } from '../helpers/models.js';
import { until } from '../helpers/poll.js';

// Fair queue across users (docs/api.md#jobs): one user's large waiting job held up every other
// user's small job although cpu was free. Seen failing on 57e3bf8 before the fix: bob's 1-cpu job,
// submitted with 2 of 4 cpus free while alice's 4-cpu job waited, was queued behind it ("waiting
// for resources") and never ran.
//
// The platform's clock is moved past MLP_QUEUE_RESERVE rather than waited for, so no step depends
// on how fast the machine is: before the move nothing has waited that long, after it alice's job has.
// Everything else is the whole platform through HTTP, with real job processes. MLP_JOB_SANDBOX=off:
// what is tested here is admission, whatever confines the job.

t.test('fair admission across users, with a reservation against starvation', async (t) => {
  let offset = 0;
  const p = await startTestPlatform(
    { MLP_TENANT_CPU: '4', MLP_TENANT_GPU: '0', MLP_TENANT_RAM: '4000', MLP_QUEUE_RESERVE: '300', MLP_TCC_TIMEOUT: '3600', MLP_JOB_SANDBOX: 'off' },
    { now: () => new Date(Date.now() + offset) },
  );
  t.teardown(() => p.close());
  const tokens = { alice: await userOn(p, 'alice'), bob: await userOn(p, 'bob') };
  type User = keyof typeof tokens;
  type Job = { state: string; msg?: string };
  const submit = async (user: User, name: string, cpu: number) => {
    const a = await p.call('POST', `/api/v1/users/${user}/jobs`, { token: tokens[user], body: { name, entry: 'forever.mjs', cpu, ram: 100 } });
    t.equal(a.status, 201, `${user}'s ${name} created (${a.text})`);
    return a.json as Job;
  };
  const get = async (user: User, name: string) => (await p.call('GET', `/api/v1/users/${user}/jobs/${name}`, { token: tokens[user] })).json as Job;
  const stop = (user: User, name: string) => p.call('PUT', `/api/v1/users/${user}/jobs/${name}:stop`, { token: tokens[user], body: {} });
  const reconcile = () => p.call('POST', '/api/v1/reconcile/jobs', { token: p.deps.serviceToken });
  const running = (user: User, name: string) =>
    until(
      () => get(user, name),
      (j) => j.state === 'running',
      `${user}'s ${name} running`,
      { before: reconcile },
    );
  /** Still queued after several admission passes (the rule holds at every pass, so no waiting is involved). */
  const stillQueued = async (user: User, name: string, msg: RegExp) => {
    for (let i = 0; i < 3; i++) await reconcile();
    t.match(await get(user, name), { state: 'creating', msg }, `${user}'s ${name} still waits`);
  };
  const cpuInUse = async () => ((await p.call('GET', '/api/v1/tenants/default', { token: tokens.alice })).json as { cpu_inuse: number }).cpu_inuse;

  await submit('bob', 'bone', 2);
  await running('bob', 'bone');
  t.match(await submit('alice', 'big', 4), { state: 'creating', msg: /waiting for resources: request does not fit now: needs cpu 4; free cpu 2/ });

  // Alice's big job does not fit yet, so it does not hold up bob's job that fits.
  const btwo = await submit('bob', 'btwo', 1);
  t.notOk(btwo.msg, `bob's job is admitted at once, not queued behind alice's (msg: ${btwo.msg})`);
  await running('bob', 'btwo');
  t.match(await get('alice', 'big'), { state: 'creating' });

  // Alice's own jobs keep their order: her small job fits the free cpu but waits behind her big one.
  t.match(await submit('alice', 'asmall', 0.5), { state: 'creating', msg: /queued behind your earlier job big/ });
  await stillQueued('alice', 'asmall', /queued behind your earlier job big/);

  // Alice's big job has now waited MLP_QUEUE_RESERVE seconds at the head of her queue: reserved.
  offset += 301_000;
  await reconcile();
  t.match(await get('alice', 'big'), { state: 'creating', msg: /needs cpu 4; free cpu 1; reserved: resources that free up are kept for this job/ });

  // Bob's new jobs no longer take what frees up; they wait, in his order.
  t.match(await submit('bob', 'bthree', 1), { state: 'creating', msg: /needs cpu 1; free cpu 1, of which cpu 1 is kept for a job that has waited longer/ });
  t.match(await submit('bob', 'bfour', 1), { state: 'creating', msg: /queued behind your earlier job bthree/ });
  t.match((await stop('bob', 'bone')).json, { state: 'error', msg: 'stopped by user' });
  await stillQueued('bob', 'bthree', /free cpu 3, of which cpu 3 is kept/);
  t.match(await get('alice', 'big'), { state: 'creating', msg: /reserved/ }, 'big waits for the last cpu it needs');

  // The last cpu frees: alice's big job runs, before any further job of bob's.
  await stop('bob', 'btwo');
  await running('alice', 'big');
  for (const [user, name] of [
    ['bob', 'bthree'],
    ['bob', 'bfour'],
    ['alice', 'asmall'],
  ] as const)
    t.match(await get(user, name), { state: 'creating' }, `${user}'s ${name} waits while big runs`);
  t.equal(await cpuInUse(), 4);

  // When it ends, the rest run.
  await stop('alice', 'big');
  for (const [user, name] of [
    ['bob', 'bthree'],
    ['alice', 'asmall'],
    ['bob', 'bfour'],
  ] as const)
    await running(user, name);
  t.equal(await cpuInUse(), 2.5);
  for (const [user, name] of [
    ['bob', 'bthree'],
    ['alice', 'asmall'],
    ['bob', 'bfour'],
  ] as const)
    await stop(user, name);
  t.equal(await cpuInUse(), 0, 'everything given back exactly once');
});
