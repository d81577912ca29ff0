import t, { type Test } from 'tap';
import { clusterAvailable, clusterTarget } from '../helpers/target.js';
import { APPS_ENV, appsScenario } from '../contract/scenarios/apps.js';
import { JOBS_ENV, jobsScenario } from '../contract/scenarios/jobs.js';
import { metricsScenario } from '../contract/scenarios/metrics.js';
import { MODELS_ENV, modelsScenario } from '../contract/scenarios/models.js';
import { sweepsCoreScenario } from '../contract/scenarios/sweeps.js';
import type { Target } from '../helpers/target.js';

// The contract scenarios of test/contract/ for jobs, sweeps, metrics, models and apps against
// `npm run cluster:local`: every function its own process behind Nginx, FerretDB, Kafka, the
// Kubernetes orchestrator on a real kube-apiserver; pods run by the test kubelet stand-in (the
// only stand-in). Each scenario gets a cluster of its own, with the tenant its numbers assume; the
// sweeps' core checks (test/contract/scenarios/sweeps.ts: grid order and trial names, reserved
// names, the parallel bound, best and progress, stop, delete with the trials) share the jobs'
// cluster as a user of their own, after the jobs scenario, whose tenant they fit and leave as found.
const jobsThenSweeps = async (t: Test, target: Target) => {
  await jobsScenario(t, target);
  t.test('sweeps (user sam)', (t) => sweepsCoreScenario(t, target, 'sam'));
};
const scenarios = [
  { name: 'jobs and sweeps', env: JOBS_ENV, run: jobsThenSweeps },
  { name: 'metrics', env: {}, run: metricsScenario },
  { name: 'models', env: MODELS_ENV, run: modelsScenario },
  { name: 'apps', env: APPS_ENV, run: appsScenario },
];

if (!clusterAvailable()) {
  t.plan(0, 'needs MLP_TEST_KUBE, MLP_TEST_MONGO_URL and MLP_TEST_KAFKA_BROKERS (npm test sets them)');
} else {
  // Four clusters of fifty function processes, pods started by the stand-in: far over 300 s.
  t.setTimeout(60 * 60_000);
  for (const { name, env, run } of scenarios) {
    t.test(`${name} on cluster:local`, async (t) => {
      const began = Date.now();
      const target = await clusterTarget(env);
      t.comment(`cluster:local started in ${Math.round((Date.now() - began) / 1000)} s`);
      t.teardown(async () => {
        const closing = Date.now();
        await target.close();
        t.comment(`and stopped in ${Math.round((Date.now() - closing) / 1000)} s`);
      });
      await run(t, target);
    });
  }
}
