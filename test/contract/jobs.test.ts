import t from 'tap';
import { inProcessTarget } from '../helpers/target.js';
import { JOBS_ENV, jobsScenario } from './scenarios/jobs.js';

// docs/api.md#jobs in-process, with the local orchestrator (child processes); test/cluster/contract.test.ts
// runs the same scenario against cluster:local.
t.test('jobs', async (t) => {
  const target = await inProcessTarget(JOBS_ENV);
  t.teardown(() => target.close());
  await jobsScenario(t, target);
});
