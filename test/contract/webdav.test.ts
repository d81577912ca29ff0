import http from 'node:http';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import t, { type Test } from 'tap';
import { storagePaths } from '../../shared/storage/paths.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

// docs/api.md#datasets WebDAV: upload while creating (never past the size), download when ready, listings,
// the user's home, and the methods WebDAV clients need.
interface Res {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/** A raw request: the path goes out exactly as written (fetch would normalise `..`). */
function raw(base: string, method: string, path: string, opts: { token?: string; body?: Buffer | string | Readable; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.headers ?? {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    // A refused upload may close the socket before the body is all sent; the answer still arrives.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    if (opts.body instanceof Readable) opts.body.pipe(req);
    else req.end(opts.body);
  });
}

function refused(t: Test, r: Res, msg: RegExp) {
  answered(t, r, 403, msg);
}

/** WebDAV's own outcomes: RFC 4918's status, still with a {msg} body. */
function answered(t: Test, r: Res, status: number, msg: RegExp) {
  t.equal(r.status, status, `${status} (got ${r.status} ${r.text})`);
  t.match(JSON.parse(r.text), { msg });
}

t.test('WebDAV on /data', async (t) => {
  const p: TestPlatform = await startTestPlatform({ MLP_TENANT_ROM: String(64 * 1024 * 1024) });
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  await p.call('POST', '/api/v1/users', { body: { username: 'bob', password: 'password1' } });
  const alice = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const bob = (await p.call('GET', '/api/v1/users/bob/token', { basic: ['bob', 'password1'] })).json as string;
  const dav = (method: string, path: string, opts: Parameters<typeof raw>[3] = {}) => raw(p.url, method, path, { token: alice, ...opts });
  const list = async (name: string) => JSON.parse((await dav('GET', `/data/alice/${name}/`)).text) as { path: string; size: number }[];
  await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'mnist', size: 20 } });

  t.test('uploads while creating: 201 new, 204 replaced, folders made', async (t) => {
    t.equal((await dav('PUT', '/data/alice/mnist/train/a.csv', { body: '0123456789' })).status, 201);
    t.equal((await dav('PUT', '/data/alice/mnist/train/a.csv', { body: '012345' })).status, 204);
    t.equal((await dav('PUT', '/data/alice/mnist/b.csv', { body: '' })).status, 201, 'empty files are files');
    t.same(
      await list('mnist'),
      [
        { path: 'b.csv', size: 0 },
        { path: 'train/a.csv', size: 6 },
      ],
      'the listing works while creating',
    );
  });

  t.test('the stored bytes never exceed the size', async (t) => {
    refused(t, await dav('PUT', '/data/alice/mnist/c.csv', { body: 'x'.repeat(15) }), /exceed dataset mnist's size of 20 bytes/);
    const chunked = Readable.from([Buffer.alloc(10, 1), Buffer.alloc(10, 2)]); // no content-length
    refused(t, await dav('PUT', '/data/alice/mnist/c.csv', { body: chunked }), /exceed/);
    t.same(
      (await list('mnist')).map((f) => f.path),
      ['b.csv', 'train/a.csv'],
      'nothing of the refused uploads was kept',
    );
    t.same(
      readdirSync(storagePaths(p.root).dataset('alice', 'mnist')).filter((n) => n.startsWith('.')),
      [],
      'no temporary file left',
    );
    t.same(readdirSync(path.join(p.root, 'tmp', 'webdav')), [], 'nor where uploads are received');
    t.equal((await dav('PUT', '/data/alice/mnist/c.csv', { body: 'x'.repeat(14) })).status, 201, 'exactly the size fits');
    t.equal((await dav('PUT', '/data/alice/mnist/train/a.csv', { body: 'y'.repeat(6) })).status, 204, 'replacing counts the old file out');
  });

  t.test('paths cannot leave the dataset', async (t) => {
    for (const path of ['/data/alice/mnist/../bob/x', '/data/alice/mnist/%2e%2e/x', '/data/alice/mnist/a%20b', '/data/alice/../x', '/data/alice/mnist/./x']) {
      const r = await dav('PUT', path, { body: 'x' });
      t.equal(r.status, 403, `${path} refused`);
    }
    refused(t, await dav('PUT', '/data/alice/Mnist/x', { body: 'x' }), /neither \.home nor a dataset name/);
    refused(t, await dav('PUT', '/data/alice/cifar/x', { body: 'x' }), /dataset cifar not found/);
  });

  t.test('owner only', async (t) => {
    // docs/api.md#datasets: without credentials /data challenges (standard WebDAV clients answer it).
    const challenged = await raw(p.url, 'GET', '/data/alice/mnist/');
    t.same([challenged.status, challenged.headers['www-authenticate']], [401, 'Basic realm="MLP"'], '401 with the Basic challenge');
    t.match(JSON.parse(challenged.text), { msg: /missing token/ });
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    t.equal((await raw(p.url, 'GET', '/data/alice/mnist/', { headers: basic('alice', alice) })).status, 200, 'Basic with the username and an API token');
    refused(t, await raw(p.url, 'GET', '/data/alice/mnist/', { headers: basic('alice', 'password1') }), /invalid/);
    refused(t, await raw(p.url, 'GET', '/data/alice/mnist/', { headers: basic('alice', bob) }), /not the token's user/);
    refused(t, await raw(p.url, 'GET', '/data/alice/mnist/', { headers: basic('bob', bob) }), /belongs to bob/);
    const api = await raw(p.url, 'GET', '/api/v1/users/alice/datasets');
    t.same([api.status, api.headers['www-authenticate']], [403, undefined], 'every other route keeps 403');
    refused(t, await raw(p.url, 'GET', '/api/v1/users/alice/datasets', { headers: basic('alice', alice) }), /Bearer/);
    refused(t, await raw(p.url, 'PUT', '/data/alice/mnist/z', { token: bob, body: 'x' }), /belongs to bob/);
    refused(t, await raw(p.url, 'GET', '/data/alice/.home/', { token: bob }), /belongs to bob/);
  });

  t.test('downloads only when ready; then whole files, ranges and HEAD', async (t) => {
    refused(t, await dav('GET', '/data/alice/mnist/c.csv'), /creating; files can be downloaded once it is ready/);
    await p.call('PUT', '/api/v1/users/alice/datasets/mnist:heartbeat', { token: alice, body: { state: 'ready', progress: 100 } });
    refused(t, await dav('PUT', '/data/alice/mnist/d.csv', { body: 'x' }), /is ready; files can be written only while it is creating/);
    refused(t, await dav('DELETE', '/data/alice/mnist'), /is ready; uploads can be discarded only while it is creating/);
    const whole = await dav('GET', '/data/alice/mnist/train/a.csv');
    t.same([whole.status, whole.text, whole.headers['accept-ranges']], [200, 'yyyyyy', 'bytes']);
    const part = await dav('GET', '/data/alice/mnist/c.csv', { headers: { range: 'bytes=2-4' } });
    t.same([part.status, part.text, part.headers['content-range']], [206, 'xxx', 'bytes 2-4/14']);
    refused(t, await dav('GET', '/data/alice/mnist/c.csv', { headers: { range: 'bytes=20-' } }), /not satisfiable/);
    const head = await dav('HEAD', '/data/alice/mnist/c.csv');
    t.same([head.status, head.headers['content-length'], head.text], [200, '14', '']);
    answered(t, await dav('GET', '/data/alice/mnist/nope.csv'), 404, /nope\.csv not found in mnist/);
    t.equal((await list('mnist')).length, 3, 'listing a ready dataset');
  });

  t.test('discarding an upload restarts it', async (t) => {
    await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'cifar', size: 100 } });
    await dav('PUT', '/data/alice/cifar/a', { body: 'abc' });
    t.equal((await dav('DELETE', '/data/alice/cifar')).status, 204);
    t.same(await list('cifar'), []);
  });

  t.test('the home: read and write any time', async (t) => {
    t.equal((await dav('PUT', '/data/alice/.home/train.mjs', { body: 'console.log(1)' })).status, 201);
    t.equal((await dav('GET', '/data/alice/.home/train.mjs')).text, 'console.log(1)');
    t.same(await list('.home'), [{ path: 'train.mjs', size: 14 }]);
    t.equal((await dav('DELETE', '/data/alice/.home/train.mjs')).status, 204);
    answered(t, await dav('DELETE', '/data/alice/.home/train.mjs'), 404, /not found/);
    refused(t, await dav('DELETE', '/data/alice/.home'), /home itself cannot be deleted/);
  });

  t.test('OPTIONS, MKCOL and PROPFIND for WebDAV clients', async (t) => {
    const options = await dav('OPTIONS', '/data/alice/.home/');
    t.same([options.status, options.headers.dav], [200, '1']);
    t.match(options.headers.allow, /PROPFIND/);
    t.equal((await dav('MKCOL', '/data/alice/.home/models')).status, 201);
    answered(t, await dav('MKCOL', '/data/alice/.home/models'), 405, /already exists/);
    answered(t, await dav('MKCOL', '/data/alice/.home/a/b'), 409, /folder above a\/b does not exist/);
    await dav('PUT', '/data/alice/.home/models/m.json', { body: '{}' });
    const pf = await dav('PROPFIND', '/data/alice/.home/', { headers: { depth: '1' } });
    t.equal(pf.status, 207);
    t.match(pf.text, /<D:href>\/data\/alice\/\.home\/<\/D:href>.*<D:collection\/>/s);
    t.match(pf.text, /<D:href>\/data\/alice\/\.home\/models\/<\/D:href>/);
    t.notMatch(pf.text, /m\.json/, 'Depth 1 does not descend');
    const file = await dav('PROPFIND', '/data/alice/.home/models/m.json', { headers: { depth: '0' } });
    t.match(file.text, /<D:getcontentlength>2<\/D:getcontentlength>/);
    refused(t, await dav('PROPFIND', '/data/alice/.home/', { headers: { depth: 'infinity' } }), /Depth must be 0 or 1/);
    refused(t, await dav('LOCK', '/data/alice/.home/x'), /method LOCK is not allowed/);
  });

  t.test('large uploads stream past the 1 MiB limit of JSON routes', async (t) => {
    await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'big', size: 8 * 1024 * 1024 } });
    const body = Buffer.alloc(6 * 1024 * 1024, 7);
    t.equal((await dav('PUT', '/data/alice/big/blob.bin', { body })).status, 201);
    t.same(await list('big'), [{ path: 'blob.bin', size: body.length }]);
  });
});

t.test('an upload still arriving when its dataset leaves creating is not kept', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  await p.call('POST', '/api/v1/users/alice/datasets', { token, body: { name: 'slow', size: 100 } });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  // The first chunk arrives, then the body waits until the dataset is already ready.
  const body = Readable.from(
    (async function* () {
      yield Buffer.from('first ');
      await gate;
      yield Buffer.from('last');
    })(),
  );
  const upload = raw(p.url, 'PUT', '/data/alice/slow/late.txt', { token, body, headers: { 'transfer-encoding': 'chunked' } });
  // Wait until the upload is being received (its temporary file exists), however loaded the machine.
  // Temporary files live outside every client-visible folder, in MLP_ROOT/tmp/webdav (docs/security.md).
  const temps = path.join(p.root, 'tmp', 'webdav');
  const receiving = () => {
    try {
      return readdirSync(temps).length > 0;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 400 && !receiving(); i++) await new Promise((r) => setTimeout(r, 25));
  t.ok(receiving(), 'the upload is in flight');
  t.equal((await p.call('PUT', '/api/v1/users/alice/datasets/slow:heartbeat', { token, body: { state: 'ready', progress: 100 } })).status, 200);
  release();
  refused(t, await upload, /slow is ready; the upload was not kept/);
  t.same(JSON.parse((await raw(p.url, 'GET', '/data/alice/slow/', { token })).text), [], 'nothing was stored');
});
