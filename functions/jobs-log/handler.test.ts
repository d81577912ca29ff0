import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { jobsCollection } from '../../shared/records/jobs.js';
import { storagePaths } from '../../shared/storage/paths.js';
import type { AddressInfo } from 'node:net';
import { createFaasServer } from '../../shared/http/server.js';
import { createRouter } from '../../shared/http/router.js';
import { testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

t.test('answers the log as text, empty before the job starts', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await jobsCollection(deps.store).insert({
    _id: 'alice/j',
    uid: 'u1',
    name: 'j',
    user: 'alice',
    tenant: 'default',
    runtime: 'tf',
    entry: 'x.mjs',
    gpu: 0,
    cpu: 1,
    ram: 100,
    state: 'creating',
    progress: 0,
    res: 'waiting',
  });
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/users/alice/jobs/j/log`;
  t.equal(await (await fetch(url, { headers })).text(), '');
  const dir = path.join(storagePaths(deps.config.root).job('alice', 'j'), 'log');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'job.log'), 'epoch 1\n');
  const a = await fetch(url, { headers });
  t.equal(await a.text(), 'epoch 1\n');
  t.match(a.headers.get('content-type'), /^text\/plain/);
  // ?follow=1 keeps the answer open and sends what is appended, until the job ends.
  const followed = fetch(`${url}?follow=1`, { headers }).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 400));
  writeFileSync(path.join(dir, 'job.log'), 'epoch 1\nepoch 2\n');
  await jobsCollection(deps.store).update('alice/j', {}, { set: { state: 'finished' } });
  t.equal(await followed, 'epoch 1\nepoch 2\n');
});
