import http from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createFaasServer } from '../../shared/http/server.js';
import { createRouter } from '../../shared/http/router.js';
import { loadFunction } from '../../shared/routes/registry.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { testDeps } from '../helpers/deps.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { userWithToken } from '../helpers/users.js';

// Size caps were once bypassed: upload temporary names were left out of a dataset's count, and the
// home had no quota at all. Seen failing on 57e3bf8 before the fix: twenty `.mlp-upload-*` files of
// 100 bytes were all stored in a 1,000-byte dataset and downloaded once it was ready; a home took a
// PUT past MLP_HOME_QUOTA, and so did concurrent PUTs that each fitted alone.

interface Res {
  status: number;
  text: string;
}

function raw(base: string, method: string, urlPath: string, token: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({ host: url.hostname, port: url.port, method, path: urlPath, headers: { authorization: `Bearer ${token}`, ...(opts.headers ?? {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // A refused upload may close the socket before the body is all sent; the answer still arrives.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(opts.body);
  });
}

function refused(t: Test, r: Res, msg: RegExp) {
  t.equal(r.status, 403, `403 (got ${r.status} ${r.text})`);
  t.match(JSON.parse(r.text || '{}'), { msg });
}

/** Bytes of regular files under `dir` on disk, whatever their names. */
function bytesOnDisk(dir: string): number {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) sum += bytesOnDisk(full);
    else if (e.isFile()) sum += statSync(full).size;
  }
  return sum;
}

const HOME_QUOTA = 1000;

t.test('size caps cannot be passed', async (t) => {
  const p: TestPlatform = await startTestPlatform({ MLP_TENANT_ROM: String(64 * 1024 * 1024), MLP_HOME_QUOTA: String(HOME_QUOTA) });
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const alice = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const dav = (method: string, urlPath: string, opts: { body?: string; headers?: Record<string, string> } = {}) => raw(p.url, method, urlPath, alice, opts);
  const paths = storagePaths(p.root);

  t.test('files named like upload temporaries count like any other', async (t) => {
    t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'small', size: 1000 } })).status, 201);
    const answers: number[] = [];
    for (let i = 0; i < 20; i++) answers.push((await dav('PUT', `/data/alice/small/.mlp-upload-${i}`, { body: String(i % 10).repeat(100) })).status);
    const stored = answers.filter((s) => s === 201).length;
    t.ok(stored <= 10, `at most 10 of the 100-byte files fit 1,000 bytes (stored ${stored})`);
    t.ok(
      answers.filter((s) => s !== 201).every((s) => s === 403),
      'the others are refused with 403',
    );
    t.ok(bytesOnDisk(paths.dataset('alice', 'small')) <= 1000, "the dataset's folder never holds more than its size");
    await p.call('PUT', '/api/v1/users/alice/datasets/small:heartbeat', { token: alice, body: { state: 'ready', progress: 100 } });
    let downloaded = 0;
    for (let i = 0; i < 20; i++) {
      const r = await dav('GET', `/data/alice/small/.mlp-upload-${i}`);
      if (r.status === 200) downloaded += Buffer.byteLength(r.text);
    }
    t.ok(downloaded <= 1000, `no more than the size can be downloaded (got ${downloaded})`);
    const listed = JSON.parse((await dav('GET', '/data/alice/small/')).text) as { size: number }[];
    t.equal(
      listed.reduce((s, f) => s + f.size, 0),
      downloaded,
      'the listing shows exactly what is stored',
    );
  });

  t.test('an upload in flight leaves nothing in the client-visible tree', async (t) => {
    t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'flight', size: 1000 } })).status, 201);
    const url = new URL(p.url);
    const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: '/data/alice/flight/a.bin', headers: { authorization: `Bearer ${alice}`, 'content-length': '10' } });
    const answered = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    req.write('12345');
    // Until the server has half the body: the old code put its temporary file here at once; wait
    // for any entry to show up, or a while (nothing ever shows up once temporaries live elsewhere).
    const dir = paths.dataset('alice', 'flight');
    const entries = () => {
      try {
        return readdirSync(dir);
      } catch {
        return [];
      }
    };
    for (let i = 0; i < 80 && entries().length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    t.same(
      entries().filter((n) => n.startsWith('.mlp-upload-')),
      [],
      "no temporary file in the dataset's folder, where a job would look",
    );
    t.same(JSON.parse((await dav('GET', '/data/alice/flight/')).text), [], 'nor in the listing');
    req.end('67890');
    t.equal(await answered, 201);
    t.same(JSON.parse((await dav('GET', '/data/alice/flight/')).text), [{ path: 'a.bin', size: 10 }]);
  });

  t.test('the home has MLP_HOME_QUOTA', async (t) => {
    refused(t, await dav('PUT', '/data/alice/.home/big.bin', { body: 'x'.repeat(HOME_QUOTA + 1) }), /home quota of 1000 bytes/);
    t.same(JSON.parse((await dav('GET', '/data/alice/.home/')).text), [], 'nothing of it was stored');
    t.equal((await dav('PUT', '/data/alice/.home/a.bin', { body: 'a'.repeat(600) })).status, 201);
    refused(t, await dav('PUT', '/data/alice/.home/b.bin', { body: 'b'.repeat(600) }), /home quota/);
    t.equal((await dav('PUT', '/data/alice/.home/a.bin', { body: 'a'.repeat(900) })).status, 204, 'replacing a file counts the old one out');
    const chunked = await new Promise<Res>((resolve, reject) => {
      const url = new URL(p.url);
      const req = http.request({ host: url.hostname, port: url.port, method: 'PUT', path: '/data/alice/.home/c.bin', headers: { authorization: `Bearer ${alice}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
      req.write('c'.repeat(60));
      req.write('c'.repeat(60));
      req.end();
    });
    refused(t, chunked, /home quota/);
    t.same(JSON.parse((await dav('GET', '/data/alice/.home/')).text), [{ path: 'a.bin', size: 900 }]);
    t.equal((await dav('DELETE', '/data/alice/.home/a.bin')).status, 204);
  });

  t.test('concurrent PUTs to the home cannot together pass its quota', async (t) => {
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => dav('PUT', `/data/alice/.home/f${i}.bin`, { body: String(i).repeat(300) })));
    const stored = answers.filter((a) => a.status === 201).length;
    t.ok(stored >= 1 && stored <= 3, `between 1 and 3 of the 300-byte files fit 1,000 bytes (stored ${stored})`);
    for (const a of answers.filter((x) => x.status !== 201)) refused(t, a, /home quota/);
    t.ok(bytesOnDisk(paths.home('alice')) <= HOME_QUOTA, 'the home on disk holds no more than its quota');
    const listed = JSON.parse((await dav('GET', '/data/alice/.home/')).text) as { size: number }[];
    t.equal(listed.length, stored, 'a refused PUT stored nothing');
  });
});

// Uploads slower than 5 minutes once failed with 408: Node's default requestTimeout bounded a
// whole upload. Stream routes are now bounded by idleness instead, and buffered (JSON) routes keep a
// bound on the whole request. The server is built with small bounds here so that "slower than the
// bound" takes seconds, not minutes. Seen failing on 57e3bf8 (with the old server's only limit,
// Node's requestTimeout, set to the same 1 s): the slow upload was answered 408 and stored nothing;
// the silent upload and the trickled JSON body were not cut.
t.test('time bounds: stream routes by idleness, JSON routes by the whole request', async (t) => {
  const deps = await testDeps(t, { MLP_HOME_QUOTA: '100000' });
  const headers = await userWithToken(deps, 'alice');
  const fns = await Promise.all(['data-webdav', 'users-create'].map((name) => loadFunction(name)));
  const server = createFaasServer({ dispatch: createRouter(fns, deps), log: deps.log, timeouts: { requestMs: 1000, idleMs: 1500 } });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const home = storagePaths(deps.config.root).home('alice');

  /** Sends `chunks` with `gapMs` between them; answers the status, or 'cut' when the server closed the connection. */
  const trickle = (method: string, urlPath: string, chunks: string[], gapMs: number, extra: Record<string, string> = {}) =>
    new Promise<number | 'cut'>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: urlPath, headers: { ...headers, ...extra, 'content-length': String(chunks.join('').length) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', (err: NodeJS.ErrnoException) => (['ECONNRESET', 'EPIPE'].includes(err.code ?? '') || /socket hang up/.test(err.message) ? resolve('cut') : reject(err)));
      const send = (i: number) => {
        if (req.destroyed) return;
        if (i === chunks.length) return void req.end();
        req.write(chunks[i]);
        setTimeout(() => send(i + 1), gapMs);
      };
      send(0);
    });

  const slow = Array.from({ length: 10 }, (_, i) => String(i).repeat(10));
  t.equal(await trickle('PUT', '/data/alice/.home/slow.bin', slow, 300), 201, 'an upload longer than the request bound but never idle is stored');
  t.equal(readFileSync(path.join(home, 'slow.bin'), 'utf8'), slow.join(''), 'whole');
  t.equal(await trickle('PUT', '/data/alice/.home/silent.bin', ['12345', '67890'], 4000), 'cut', 'an upload silent for longer than the idle bound is cut');
  t.notOk(existsSync(path.join(home, 'silent.bin')), 'and nothing of it is stored');
  const body = JSON.stringify({ username: 'slowpoke', password: 'password1' });
  const json = await trickle('POST', '/api/v1/users', body.match(/.{1,4}/g) ?? [], 300, { 'content-type': 'application/json' });
  t.not(json, 201, `a JSON body trickled past the request bound is refused (got ${json})`);
  t.equal(await deps.users.get('slowpoke'), null, 'and the user was not created');
});
