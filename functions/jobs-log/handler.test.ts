import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { jobsCollection } from '../../shared/repos/jobs.js';
import { storagePaths } from '../../shared/storage.js';
import { invoke, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('answers the log as text, empty before the job starts', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await jobsCollection(deps.store).insert({ _id: 'alice/j', uid: 'u1', name: 'j', user: 'alice', tenant: 'default', runtime: 'tf', entry: 'x.mjs', gpu: 0, cpu: 1, ram: 100, state: 'creating', progress: 0, res: 'waiting' });
  const url = '/api/v1/users/alice/jobs/j/log';
  t.equal((await invoke(route, handle, deps, { path: url, headers })).body, '');
  const dir = path.join(storagePaths(deps.config.root).job('alice', 'j'), 'log');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'job.log'), 'epoch 1\n');
  const a = await invoke(route, handle, deps, { path: url, headers });
  t.equal(a.body, 'epoch 1\n');
  t.match(a.headers['content-type'], /^text\/plain/);
});
