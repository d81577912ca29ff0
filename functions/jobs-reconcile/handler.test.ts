import t from 'tap';
import { jobsCollection } from '../../shared/records/jobs.js';
import { bearer, invoke, testDeps } from '../../test/helpers/deps.js';
import { homeScript } from '../../test/helpers/jobs.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('admits a queued job and, once its process exits, releases it', async (t) => {
  const deps = await testDeps(t);
  homeScript(deps, 'alice', 'quick.mjs', 'console.log("done")');
  await jobsCollection(deps.store).insert({
    _id: 'alice/q',
    uid: 'u1',
    name: 'q',
    user: 'alice',
    tenant: 'default',
    runtime: 'tf',
    entry: 'quick.mjs',
    gpu: 0,
    cpu: 1,
    ram: 100,
    state: 'creating',
    progress: 0,
    res: 'waiting',
  });
  const run = () => invoke(route, handle, deps, { path: route.path, headers: bearer(deps.serviceToken) });
  t.match((await run()).body, { admitted: ['q'] });
  for (let i = 0; i < 200 && (await jobsCollection(deps.store).get('alice/q'))?.res !== 'released'; i++) {
    await run();
    await new Promise((r) => setTimeout(r, 25));
  }
  t.match(await jobsCollection(deps.store).get('alice/q'), { state: 'finished', res: 'released' });
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 0);
});
