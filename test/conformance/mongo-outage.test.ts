import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MongoClient } from 'mongodb';
import { startTestPlatform } from '../helpers/platform.js';
import { freePort } from '../helpers/process.js';

// The platform on a MongoDB-compatible server that goes away and comes back: a clear 503
// while it is gone, and the same process serving again once it is back (driver reconnect).
const bin = process.env.MLP_TEST_FERRETDB_BIN;
if (!bin) {
  t.plan(0, 'MLP_TEST_FERRETDB_BIN not set (npm test sets it)');
} else {
  t.test('database outage: 503 {msg} while down, served again after it returns', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mlp-outage-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const port = await freePort();
    const url = `mongodb://127.0.0.1:${port}/outage`;
    let server: ChildProcess | undefined;
    const start = async () => {
      server = spawn(bin, ['-listen', `127.0.0.1:${port}`, '-sqlite-dir', `${dir}/`], { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        const client = new MongoClient(url, { serverSelectionTimeoutMS: 200 });
        try {
          await client.db().command({ ping: 1 });
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        } finally {
          await client.close();
        }
      }
      throw new Error('FerretDB did not start');
    };
    const stop = async () => {
      const s = server;
      if (!s || s.exitCode !== null) return;
      s.kill('SIGKILL');
      await new Promise((r) => s.once('exit', r));
    };
    t.teardown(stop);
    await start();
    const p = await startTestPlatform({ MLP_MONGO_URL: url });
    t.teardown(() => p.close());
    t.equal((await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201);
    const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;

    await stop();
    const down = await p.call('GET', '/api/v1/users/alice', { token });
    t.equal(down.status, 503, 'a fault, not a client error');
    t.match(down.json, { msg: /database unreachable/ });
    t.same(Object.keys(down.json as object), ['msg']);
    t.equal((await p.call('GET', '/_/ready')).status, 503, 'readiness reports the outage');

    await start();
    const back = await p.call('GET', '/api/v1/users/alice', { token });
    t.equal(back.status, 200, 'the same process serves again');
    t.match(back.json, { username: 'alice', state: 'Actived' });
    t.equal((await p.call('GET', '/_/ready')).status, 200);
  });
}
