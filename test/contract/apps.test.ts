import t from 'tap';
import { storeBackends } from '../helpers/platform.js';
import { inProcessTarget } from '../helpers/target.js';
import { APPS_ENV, appsScenario } from './scenarios/apps.js';

// docs/api.md#applications in-process (model servers as child processes) on every store backend;
// test/cluster/contract.test.ts runs the same scenario against cluster:local.
for (const backend of storeBackends()) {
  t.test(`apps on ${backend.name}`, async (t) => {
    // Restarts keep the data folder and database, so they see the same platform.
    const target = await inProcessTarget({ ...backend.env, ...APPS_ENV });
    t.teardown(() => target.close());
    await appsScenario(t, target);
  });
}
