import t from 'tap';
import { storeBackends } from '../helpers/platform.js';
import { inProcessTarget } from '../helpers/target.js';
import { MODELS_ENV, modelsScenario } from './scenarios/models.js';

// docs/api.md#models in-process on every store backend; test/cluster/contract.test.ts runs the same
// scenario against cluster:local.
for (const backend of storeBackends()) {
  t.test(`models on ${backend.name}`, async (t) => {
    const target = await inProcessTarget({ ...backend.env, ...MODELS_ENV });
    t.teardown(() => target.close());
    await modelsScenario(t, target);
  });
}
