import t from 'tap';
import { storeBackends } from '../helpers/platform.js';
import { inProcessTarget } from '../helpers/target.js';
import { SWEEPS_ENV, sweepsScenario } from './scenarios/sweeps.js';

// docs/api.md#experiments in-process (trials as child processes) on every store backend: every
// check of test/contract/scenarios/sweeps.ts. test/cluster/contract.test.ts runs only its core
// checks (sweepsCoreScenario) on pods: that file is the slowest of npm test already
// (docs/testing.md), and the others wait out a 10 s retry backoff or the median rule's epochs.
// ~30 s a store on a quiet machine; 277 s on the embedded store at load average ~60.
t.setTimeout(30 * 60_000);
for (const backend of storeBackends()) {
  t.test(`sweeps on ${backend.name}`, async (t) => {
    const target = await inProcessTarget({ ...backend.env, ...SWEEPS_ENV });
    t.teardown(() => target.close());
    await sweepsScenario(t, target);
  });
}
