import t from 'tap';
import { handle as create } from '../../functions/jobs-create/handler.js';
import createRoute from '../../functions/jobs-create/route.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { homeScript } from '../../test/helpers/jobs.js';
import { userWithToken } from '../../test/helpers/users.js';
import { jobsCollection } from '../records/jobs.js';
import { admitWaiting } from './lifecycle.js';
import { stopJob } from './stop.js';

// docs/api.md#jobs: ending (stopped too) releases a job's resources. A job stopped while being
// admitted (after its try was confirmed, before it was marked held) used to keep them until the
// TCC timeout (60 s), when settleTrying found the confirmed try; the contract scenario of sweeps
// (test/contract/scenarios/sweeps.ts) saw the tenant full for that long on MongoDB.
t.test('a job stopped while it is being admitted gives its resources back at once', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '2' });
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'wait.mjs', 'setInterval(() => {}, 1000)');
  const submit = (name: string, cpu: number) => invoke(createRoute, create, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name, entry: 'wait.mjs', cpu, ram: 200 } });
  t.equal((await submit('hog', 2)).status, 201);
  t.equal((await submit('late', 2)).status, 201);
  const jobs = jobsCollection(deps.store);
  t.match(await jobs.get('alice/late'), { state: 'creating', res: 'waiting' });
  await stopJob(deps, 'alice/hog', 'stopped by user');
  // The user stops `late` between the confirm of its try and the admitter marking it held.
  const confirm = deps.tcc.confirm.bind(deps.tcc);
  deps.tcc.confirm = async (...args: Parameters<typeof confirm>) => {
    const done = await confirm(...args);
    await stopJob(deps, 'alice/late', 'stopped by user');
    return done;
  };
  t.same(await admitWaiting(deps), [], 'not admitted: it was stopped');
  t.match(await jobs.get('alice/late'), { state: 'error', msg: 'stopped by user' });
  t.not((await jobs.get('alice/late'))?.res, 'trying', 'its try is settled');
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 0, 'nothing is held for it');
});
