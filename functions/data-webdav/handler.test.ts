import { existsSync, readdirSync, readlinkSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { createFaasServer } from '../../shared/http/server.js';
import { createRouter } from '../../shared/http/router.js';
import { datasetsCollection } from '../../shared/records/datasets.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { durability } from '../../shared/webdav/files.js';
import { testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { handle } from './handler.js';
import route from './route.js';

// A stream route: one request through the template's server and adapter (no platform around it).
t.test('stores an upload into a creating dataset, within its size', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  await datasetsCollection(deps.store).insert({
    _id: 'alice/mnist',
    uid: 'u',
    name: 'mnist',
    user: 'alice',
    tenant: 'default',
    size: 4,
    state: 'creating',
    progress: 0,
    heartbeat_at: new Date().toISOString(),
    rom: 'held',
  });
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.equal((await fetch(`${base}/data/alice/mnist/a`, { method: 'PUT', headers, body: 'abcd' })).status, 201);
  const over = await fetch(`${base}/data/alice/mnist/b`, { method: 'PUT', headers, body: 'e' });
  t.equal(over.status, 403);
  t.match(await over.json(), { msg: /exceed dataset mnist's size of 4 bytes/ });
  t.same(await (await fetch(`${base}/data/alice/mnist/`, { headers })).json(), [{ path: 'a', size: 4 }]);
});

t.test('COPY and MOVE stay within one dataset or home, under the rules of PUT', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const insert = (name: string, size: number, state: 'creating' | 'ready') =>
    datasetsCollection(deps.store).insert({ _id: `alice/${name}`, uid: name, name, user: 'alice', tenant: 'default', size, state, progress: 0, heartbeat_at: new Date().toISOString(), rom: 'held' });
  await insert('mnist', 10, 'creating');
  await insert('other', 100, 'creating');
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dav = (method: string, path: string, extra: Record<string, string> = {}, body?: string) => fetch(`${base}${path}`, { method, headers: { ...headers, ...extra }, body });
  const msg = async (r: Response) => ((await r.json()) as { msg: string }).msg;
  t.equal((await dav('PUT', '/data/alice/mnist/a', {}, 'abcd')).status, 201);
  t.equal((await dav('COPY', '/data/alice/mnist/a', { destination: `${base}/data/alice/mnist/b` })).status, 201, 'a copy');
  const over = await dav('COPY', '/data/alice/mnist/a', { destination: '/data/alice/mnist/c' });
  t.equal(over.status, 403);
  t.match(await msg(over), /exceed dataset mnist's size of 10 bytes/, 'a copy counts against the size');
  const across = await dav('COPY', '/data/alice/mnist/a', { destination: '/data/alice/other/a' });
  t.match([across.status, await msg(across)], [403, /within one dataset or home/]);
  const foreign = await dav('MOVE', '/data/alice/mnist/a', { destination: '/data/bob/.home/a' });
  t.match([foreign.status, await msg(foreign)], [403, /stays within \/data\/alice/]);
  const keep = await dav('MOVE', '/data/alice/mnist/a', { destination: '/data/alice/mnist/b', overwrite: 'F' });
  t.match([keep.status, await msg(keep)], [412, /exists and Overwrite is F/], 'Overwrite: F onto an existing destination: 412');
  t.equal((await dav('MOVE', '/data/alice/mnist/a', { destination: '/data/alice/mnist/b' })).status, 204, 'a move replaces');
  t.same(await (await dav('GET', '/data/alice/mnist/')).json(), [{ path: 'b', size: 4 }]);
  const noParent = await dav('MKCOL', '/data/alice/mnist/x/y');
  t.match([noParent.status, await msg(noParent)], [409, /folder above x\/y does not exist/], 'MKCOL makes no parents: 409');
  t.equal((await dav('MKCOL', '/data/alice/mnist/x')).status, 201);
  t.equal((await dav('MKCOL', '/data/alice/mnist/x/y')).status, 201, 'once the parent exists');
  const again = await dav('MKCOL', '/data/alice/mnist/x/y');
  t.match([again.status, await msg(again)], [405, /already exists/], 'MKCOL on an existing resource: 405');
  const withBody = await dav('MKCOL', '/data/alice/mnist/z', {}, '<x/>');
  t.match([withBody.status, await msg(withBody)], [415, /takes no request body/], 'MKCOL with a body: 415');
  t.equal((await dav('PUT', '/data/alice/mnist/p/q/r', {}, 'x')).status, 201, 'PUT still makes missing parents');
  const copyNoParent = await dav('COPY', '/data/alice/mnist/b', { destination: '/data/alice/mnist/none/b' });
  t.match([copyNoParent.status, await msg(copyNoParent)], [409, /folder above none\/b does not exist/], 'COPY under a missing folder: 409');
  const underFile = await dav('MKCOL', '/data/alice/mnist/b/sub');
  t.equal(underFile.status, 409, 'MKCOL under a file: 409');
  // Missing resources: 404 with {msg} (HEAD without a body).
  for (const method of ['GET', 'PROPFIND', 'DELETE', 'COPY', 'MOVE']) {
    const r = await dav(method, '/data/alice/mnist/nothing/here', { destination: '/data/alice/mnist/elsewhere', ...(method === 'PROPFIND' ? { depth: '0' } : {}) });
    t.match([r.status, await msg(r)], [404, /nothing\/here not found in mnist/], `${method} of a missing resource: 404`);
  }
  const head = await dav('HEAD', '/data/alice/mnist/nothing');
  t.equal(head.status, 404, 'HEAD of a missing resource: 404');
  t.equal(await head.text(), '', 'without a body');
  // The platform's rules stay 403 {msg}.
  const foreignUser = await fetch(`${base}/data/bob/.home/nothing`, { headers });
  t.equal(foreignUser.status, 403, "another user's missing file: 403, no hint it is missing");
  const noDataset = await dav('GET', '/data/alice/nosuch/a');
  t.match([noDataset.status, await msg(noDataset)], [403, /dataset nosuch not found/], 'a dataset that does not exist: 403 (a platform object)');
  await insert('done', 100, 'ready');
  t.match(await msg(await dav('COPY', '/data/alice/done/a', { destination: '/data/alice/done/b' })), /is ready; files can be written only while it is creating/);
});

t.test('PROPPATCH: dead properties set, read, removed, bounded, and carried by COPY, MOVE and DELETE', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const insert = (name: string, state: 'creating' | 'ready') =>
    datasetsCollection(deps.store).insert({
      _id: `alice/${name}`,
      uid: `uid-${name}`,
      name,
      user: 'alice',
      tenant: 'default',
      size: 100,
      state,
      progress: 0,
      heartbeat_at: new Date().toISOString(),
      rom: 'held',
    });
  await insert('mnist', 'creating');
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dav = (method: string, path: string, extra: Record<string, string> = {}, body?: string) => fetch(`${base}${path}`, { method, headers: { ...headers, ...extra }, body });
  const msg = async (r: Response) => ((await r.json()) as { msg: string }).msg;
  const update = (inner: string) => `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">${inner}</D:propertyupdate>`;
  const set = (props: string) => update(`<D:set><D:prop>${props}</D:prop></D:set>`);
  const find = async (path: string, body = '', depth = '0') => (await dav('PROPFIND', path, { depth }, body)).text();

  t.equal((await dav('PUT', '/data/alice/.home/a', {}, 'abc')).status, 201);
  const ok = await dav('PROPPATCH', '/data/alice/.home/a', {}, set('<Z:colour>red</Z:colour><Z:shape><x xmlns="urn:y" k="v">round &amp; <b/></x></Z:shape>'));
  t.equal(ok.status, 207);
  t.match(await ok.text(), /<colour xmlns="urn:z"\/>.*HTTP\/1.1 200 OK/s, 'each property is answered 200');
  const all = await find('/data/alice/.home/a');
  t.match(all, '<colour xmlns="urn:z">red</colour>', 'allprop returns the dead properties, with their namespace');
  t.match(all, '<shape xmlns="urn:z"><x xmlns="urn:y" k="v">round &amp; <b xmlns="urn:y"/></x></shape>', 'an XML value keeps its namespaces');
  t.match(all, '<D:getcontentlength>3</D:getcontentlength>', 'and the live ones');
  const named = await find('/data/alice/.home/a', '<D:propfind xmlns:D="DAV:"><D:prop><colour xmlns="urn:z"/><gone xmlns="urn:z"/><D:getcontentlength/></D:prop></D:propfind>');
  t.match(named, /<colour xmlns="urn:z">red<\/colour><D:getcontentlength>3<\/D:getcontentlength><\/D:prop><D:status>HTTP\/1.1 200 OK/);
  t.match(named, /<gone xmlns="urn:z"\/><\/D:prop><D:status>HTTP\/1.1 404 Not Found/, 'a property not set is 404 in the multistatus');
  t.match(await find('/data/alice/.home/', '', '1'), /\/data\/alice\/.home\/a<\/D:href>.*<colour xmlns="urn:z">red<\/colour>/s, "Depth 1 shows the children's properties");
  t.same(await (await dav('GET', '/data/alice/.home/')).json(), [{ path: 'a', size: 3 }], 'properties are not files of the home');

  // Removal, and all-or-nothing.
  t.equal((await dav('PROPPATCH', '/data/alice/.home/a', {}, update('<D:remove><D:prop><Z:colour/></D:prop></D:remove>'))).status, 207);
  t.notMatch(await find('/data/alice/.home/a'), 'colour', 'removed');
  const live = await dav('PROPPATCH', '/data/alice/.home/a', {}, set('<Z:colour>blue</Z:colour><D:getcontentlength>9</D:getcontentlength>'));
  t.match([live.status, await msg(live)], [403, /DAV:getcontentlength is a live property/]);
  t.notMatch(await find('/data/alice/.home/a'), 'colour', 'a refused PROPPATCH changes nothing');

  // Bounds and malformed bodies.
  const many = Array.from({ length: 33 }, (_, i) => `<Z:p${i}>v</Z:p${i}>`).join('');
  t.match(await msg(await dav('PROPPATCH', '/data/alice/.home/a', {}, set(many))), /at most 32 dead properties/);
  t.match(await msg(await dav('PROPPATCH', '/data/alice/.home/a', {}, set(`<Z:big>${'x'.repeat(5000)}</Z:big>`))), /at most 4096/);
  const huge = await dav('PROPPATCH', '/data/alice/.home/a', {}, 'x'.repeat(300 * 1024));
  t.match([huge.status, await msg(huge)], [403, /at most 262144 bytes/], 'a size the platform sets: 403');
  for (const bad of ['<D:propertyupdate xmlns:D="DAV:"><D:set>', '<propertyupdate xmlns="DAV:"><set><prop><bad:x/></prop></set></propertyupdate>', '<!DOCTYPE x [<!ENTITY a "b">]><x/>', '']) {
    const r = await dav('PROPPATCH', '/data/alice/.home/a', {}, bad);
    t.match([r.status, await msg(r)], [400, /not well-formed XML/], `malformed: ${bad.slice(0, 30) || 'empty'}`);
  }
  const badFind = await dav('PROPFIND', '/data/alice/.home/a', { depth: '0' }, '<D:propfind xmlns:D="DAV:"><D:prop>');
  t.match([badFind.status, await msg(badFind)], [400, /PROPFIND body is not well-formed XML/]);
  const notFind = await dav('PROPFIND', '/data/alice/.home/a', { depth: '0' }, '<D:x xmlns:D="DAV:"/>');
  t.match([notFind.status, await msg(notFind)], [400, /must be a DAV: propfind/]);
  const nothing = await dav('PROPPATCH', '/data/alice/.home/nothing', {}, set('<Z:c>1</Z:c>'));
  t.match([nothing.status, await msg(nothing)], [404, /nothing not found/]);

  // A link planted in the home (by a job) is refused, its target untouched.
  symlinkSync('/etc', path.join(deps.config.root, storagePaths('').home('alice'), 'evil'));
  t.match(await msg(await dav('PROPPATCH', '/data/alice/.home/evil', {}, set('<Z:c>1</Z:c>'))), /evil is a link; links are not followed/);

  // Properties of a file a job removed (not through WebDAV) are forgotten at the next PROPPATCH.
  t.equal((await dav('PUT', '/data/alice/.home/gone', {}, 'x')).status, 201);
  await dav('PROPPATCH', '/data/alice/.home/gone', {}, set('<Z:c>1</Z:c>'));
  const sidecar = path.join(deps.config.root, 'tmp', 'webdav-props', 'alice', 'home');
  t.ok(existsSync(path.join(sidecar, 'gone', '@props.json')));
  rmSync(path.join(deps.config.root, storagePaths('').home('alice'), 'gone'));
  await dav('PROPPATCH', '/data/alice/.home/a', {}, set('<Z:c>1</Z:c>'));
  t.notOk(existsSync(path.join(sidecar, 'gone')), 'pruned');

  // COPY, MOVE and DELETE carry the properties along; a new file at a path starts without any.
  await dav('PROPPATCH', '/data/alice/.home/a', {}, set('<Z:colour>green</Z:colour>'));
  t.equal((await dav('COPY', '/data/alice/.home/a', { destination: '/data/alice/.home/b' })).status, 201);
  t.match(await find('/data/alice/.home/b'), '<colour xmlns="urn:z">green</colour>', 'copied');
  t.equal((await dav('MOVE', '/data/alice/.home/b', { destination: '/data/alice/.home/c' })).status, 201);
  t.match(await find('/data/alice/.home/c'), '<colour xmlns="urn:z">green</colour>', 'moved');
  t.equal((await dav('DELETE', '/data/alice/.home/c')).status, 204);
  t.equal((await dav('PUT', '/data/alice/.home/c', {}, 'new')).status, 201);
  t.notMatch(await find('/data/alice/.home/c'), 'colour', 'deleted with the file');
  t.equal((await dav('MKCOL', '/data/alice/.home/d')).status, 201);
  await dav('PROPPATCH', '/data/alice/.home/d', {}, set('<Z:colour>folder</Z:colour>'));
  t.equal((await dav('MOVE', '/data/alice/.home/d', { destination: '/data/alice/.home/e' })).status, 201);
  t.match(await find('/data/alice/.home/e'), 'folder', "a folder's properties move with it");

  // A dataset's properties are written only while it is creating, and go with it.
  t.equal((await dav('PUT', '/data/alice/mnist/f', {}, 'x')).status, 201);
  t.equal((await dav('PROPPATCH', '/data/alice/mnist/f', {}, set('<Z:label>seven</Z:label>'))).status, 207);
  await datasetsCollection(deps.store).update('alice/mnist', {}, { set: { state: 'ready' } });
  t.match(await find('/data/alice/mnist/f'), '<label xmlns="urn:z">seven</label>', 'readable once ready');
  const ro = await dav('PROPPATCH', '/data/alice/mnist/f', {}, set('<Z:label>eight</Z:label>'));
  t.match([ro.status, await msg(ro)], [403, /dataset mnist is ready; properties can be written only while it is creating/]);
  t.ok(existsSync(path.join(deps.config.root, 'tmp', 'webdav-props', 'alice', 'dataset-uid-mnist')), 'kept beside, outside the dataset');
  await datasetsCollection(deps.store).update('alice/mnist', {}, { set: { state: 'creating' } });
  t.equal((await dav('DELETE', '/data/alice/mnist')).status, 204);
  t.notOk(existsSync(path.join(deps.config.root, 'tmp', 'webdav-props', 'alice', 'dataset-uid-mnist')), 'discarding the upload discards its properties');

  // A dataset deleted through the API leaves its properties until another dataset gets its first.
  await insert('old', 'creating');
  await dav('PUT', '/data/alice/old/f', {}, 'x');
  t.equal((await dav('PROPPATCH', '/data/alice/old/f', {}, set('<Z:c>1</Z:c>'))).status, 207);
  await datasetsCollection(deps.store).remove('alice/old');
  await insert('fresh', 'creating');
  await dav('PUT', '/data/alice/fresh/f', {}, 'x');
  t.equal((await dav('PROPPATCH', '/data/alice/fresh/f', {}, set('<Z:c>1</Z:c>'))).status, 207);
  t.notOk(existsSync(path.join(deps.config.root, 'tmp', 'webdav-props', 'alice', 'dataset-uid-old')), 'swept');
  t.ok(existsSync(path.join(deps.config.root, 'tmp', 'webdav-props', 'alice', 'dataset-uid-fresh')));
});

t.test('PROPPATCH: the dead properties of one home are bounded in total', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dav = (method: string, p: string, body?: string) => fetch(`${base}${p}`, { method, headers, body });
  const props = Array.from({ length: 32 }, (_, i) => `<Z:p${i}>${'v'.repeat(4000)}</Z:p${i}>`).join('');
  const body = `<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>${props}</D:prop></D:set></D:propertyupdate>`;
  let refused: { at: number; msg: string } | undefined;
  for (let i = 0; i < 80 && !refused; i++) {
    await dav('PUT', `/data/alice/.home/f${i}`, '');
    const r = await dav('PROPPATCH', `/data/alice/.home/f${i}`, body);
    if (r.status !== 207) refused = { at: i, msg: ((await r.json()) as { msg: string }).msg };
  }
  t.ok(refused && refused.at > 60, `refused after about 8 MiB (at file ${refused?.at})`);
  t.match(refused?.msg, /dead properties of one dataset or home are at most 8388608 bytes/);
});

t.test('real file names: spaces, #, %, ?, accents and CJK upload, list, download and copy; the rest is refused', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  // Raw requests: the path goes out exactly as written (fetch would resolve %2e%2e).
  const dav = (method: string, target: string, body = '', extra: Record<string, string> = {}) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: target, headers: { ...headers, ...extra, 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end(body);
    });
  const enc = (p: string) => p.split('/').map(encodeURIComponent).join('/');
  const names = ['a b.txt', 'a#b', '100%.csv', 'why?.md', 'données.csv', 'IMG 001 (1).jpg', '数据/文件.bin', 'dir with space/x y (2)/z#%?.txt'];
  for (const name of names) t.equal((await dav('PUT', `/data/alice/.home/${enc(name)}`, `bytes of ${name}`)).status, 201, `PUT ${name}`);
  for (const name of names) {
    const r = await dav('GET', `/data/alice/.home/${enc(name)}`);
    t.same([r.status, r.text], [200, `bytes of ${name}`], `GET ${name}: the same bytes`);
  }
  const listed = JSON.parse((await dav('GET', '/data/alice/.home/')).text) as { path: string }[];
  t.same(listed.map((f) => f.path).sort(), [...names].sort(), 'the listing has the names as they are');
  const pf = await dav('PROPFIND', '/data/alice/.home/', '', { depth: '1' });
  t.equal(pf.status, 207);
  t.match(pf.text, '<D:href>/data/alice/.home/a%20b.txt</D:href>', 'hrefs encode each segment');
  t.match(pf.text, '<D:href>/data/alice/.home/a%23b</D:href>', 'a # stays in its segment');
  t.match(pf.text, '<D:href>/data/alice/.home/why%3F.md</D:href>', 'a ? too');
  t.match(pf.text, `<D:href>/data/alice/.home/${encodeURIComponent('données.csv')}</D:href>`);
  t.equal((await dav('COPY', `/data/alice/.home/${enc('données.csv')}`, '', { destination: `/data/alice/.home/${enc('copie de données (1).csv')}` })).status, 201, 'COPY to a UTF-8 name');
  t.equal((await dav('GET', `/data/alice/.home/${enc('copie de données (1).csv')}`)).text, 'bytes of données.csv');

  const refused: [string, RegExp][] = [
    ['/data/alice/.home/a%00b', /NUL or control/],
    ['/data/alice/.home/a%0Ab', /./],
    ['/data/alice/.home/a%1Fb', /NUL or control/],
    ['/data/alice/.home/%2e%2e/x', /dot segments|is "\.\."/],
    ['/data/alice/.home/x/../../y', /dot segments|is "\.\."/],
    ['/data/alice/.home/..%2F..%2Fx', /holds a "\/"/],
    ['/data/alice/.home/%252e%252e/x', /percent-encoded twice/],
    ['/data/alice/.home/..%252Fx', /percent-encoded twice/],
    [`/data/alice/.home/${'x'.repeat(256)}`, /256 bytes/],
    [`/data/alice/.home/${enc('é'.repeat(128))}`, /256 bytes/],
    ['/data/alice/.home/%E9t%E9', /percent-encoding/],
  ];
  for (const [target, why] of refused) {
    const r = await dav('PUT', target, 'x');
    t.equal(r.status, 403, `PUT ${target.slice(0, 60)}: 403 (got ${r.status} ${r.text.slice(0, 100)})`);
    t.match((JSON.parse(r.text || '{}') as { msg?: string }).msg, why, `PUT ${target.slice(0, 60)}: says why`);
  }
  const copyOut = await dav('COPY', `/data/alice/.home/${enc('a b.txt')}`, '', { destination: '/data/alice/.home/%252e%252e' });
  t.equal(copyOut.status, 403, 'a double-encoded Destination is refused');
  t.same(
    readdirSync(path.join(deps.config.root, storagePaths('').home('alice'))).sort(),
    ['100%.csv', 'IMG 001 (1).jpg', 'a b.txt', 'a#b', 'copie de données (1).csv', 'dir with space', 'données.csv', 'why?.md', '数据'].sort(),
    'nothing else was written',
  );
});

t.test('durable writes: files and the folders that gain names are fsynced, once each, before the answer', async (t) => {
  const deps = await testDeps(t);
  const headers = await userWithToken(deps, 'alice');
  const server = createFaasServer({ dispatch: createRouter([{ route, handle }], deps), log: deps.log });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const root = realpathSync(deps.config.root);
  const home = path.join(deps.config.root, storagePaths('').home('alice'));
  const original = { ...durability };
  t.teardown(() => Object.assign(durability, original));
  // Each sync as what it reaches on disk (the real path of the synced handle, relative to MLP_ROOT).
  const where = (fd: number) => path.relative(root, readlinkSync(`/proc/self/fd/${fd}`)) || '(root)';
  const events: string[] = [];
  durability.file = async (h) => {
    await original.file(h);
    // Synced while still a temporary file: not yet under its name.
    events.push(`file ${where(h.fd).startsWith('tmp/webdav/') ? 'tmp' : where(h.fd)} ${(await h.stat()).size} bytes, ${existsSync(path.join(home, 'd', 'f.bin')) ? 'in place' : 'not yet in place'}`);
  };
  durability.folder = async (f) => {
    await original.folder(f);
    events.push(`folder ${path.relative(root, readlinkSync(f.at())) || '(root)'}`);
  };
  const dav = (method: string, target: string, body?: string, extra: Record<string, string> = {}) => fetch(`${base}${target}`, { method, headers: { ...headers, ...extra }, body });
  const H = 'datasets/alice/.home';
  const put = (body: string) => dav('PUT', '/data/alice/.home/d/f.bin', body);
  t.equal((await put('abcdef')).status, 201);
  t.same(
    events,
    ['folder (root)', 'folder datasets', 'folder datasets/alice', `folder ${H}`, 'folder (root)', 'folder tmp', 'file tmp 6 bytes, not yet in place', `folder ${H}/d`],
    "a first upload: each folder made is synced in the folder it was made in (the home's, d, the temporary folder), the file, then the folder it lands in, before the 201",
  );
  events.length = 0;
  t.equal((await put('xyz')).status, 204);
  t.same(events, ['file tmp 3 bytes, in place', `folder ${H}/d`], 'a replaced file: the file and its folder, before the 204; nothing else');
  events.length = 0;
  t.equal((await dav('PUT', '/data/alice/.home/d/n1/n2/g.bin', 'ab')).status, 201);
  t.same(events, [`folder ${H}/d`, `folder ${H}/d/n1`, 'file tmp 2 bytes, in place', `folder ${H}/d/n1/n2`], 'parents a PUT makes: one sync per folder that gains a name');

  events.length = 0;
  t.equal((await dav('COPY', '/data/alice/.home/d', undefined, { destination: '/data/alice/.home/c' })).status, 201);
  t.same(
    events,
    [`file ${H}/c/f.bin 3 bytes, in place`, `file ${H}/c/n1/n2/g.bin 2 bytes, in place`, `folder ${H}/c/n1/n2`, `folder ${H}/c/n1`, `folder ${H}/c`, `folder ${H}`],
    "a deep COPY: every file written and every folder filled, then the destination's folder",
  );
  events.length = 0;
  t.equal((await dav('COPY', '/data/alice/.home/d/f.bin', undefined, { destination: '/data/alice/.home/d/f2.bin' })).status, 201);
  t.same(events, [`file ${H}/d/f2.bin 3 bytes, in place`, `folder ${H}/d`], 'a file COPY: the file, then its folder');
  events.length = 0;
  t.equal((await dav('MOVE', '/data/alice/.home/c/n1', undefined, { destination: '/data/alice/.home/m' })).status, 201);
  t.same(events, [`folder ${H}`, `folder ${H}/c`], 'a MOVE across folders: the folder that gains the name and the one that loses it');
  events.length = 0;
  t.equal((await dav('MOVE', '/data/alice/.home/d/f2.bin', undefined, { destination: '/data/alice/.home/d/f3.bin' })).status, 201);
  t.same(events, [`folder ${H}/d`], 'a rename within a folder: that folder, once');
  events.length = 0;
  t.equal((await dav('MKCOL', '/data/alice/.home/d/k')).status, 201);
  t.same(events, [`folder ${H}/d`], 'MKCOL: the folder that gains it');
  t.same(await (await dav('GET', '/data/alice/.home/')).json(), [
    { path: 'c/f.bin', size: 3 },
    { path: 'd/f.bin', size: 3 },
    { path: 'd/f3.bin', size: 3 },
    { path: 'd/n1/n2/g.bin', size: 2 },
    { path: 'm/n2/g.bin', size: 2 },
  ]);

  // If a folder cannot be made durable, the client is told (503), not answered 201.
  durability.folder = async () => {
    throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
  };
  const unsynced = await dav('PUT', '/data/alice/.home/d/h.bin', 'x');
  t.equal(unsynced.status, 503, 'a folder that cannot be synced: 503');
  t.match(await unsynced.json(), { msg: String });
  durability.folder = original.folder;
  // If the file cannot be made durable, the upload is not kept and the client is told (503).
  durability.file = async () => {
    throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
  };
  const failed = await dav('PUT', '/data/alice/.home/d/g.bin', 'lost');
  t.equal(failed.status, 503);
  t.match(await failed.json(), { msg: String });
  t.notOk(existsSync(path.join(home, 'd', 'g.bin')), 'nothing committed');
  t.same(readdirSync(path.join(deps.config.root, 'tmp', 'webdav')), [], 'no temporary file left');
  const copyFailed = await dav('COPY', '/data/alice/.home/d/f.bin', undefined, { destination: '/data/alice/.home/d/g.bin' });
  t.equal(copyFailed.status, 503, 'a copy whose file cannot be synced: 503');
  t.notOk(existsSync(path.join(home, 'd', 'g.bin')), 'and not kept');
});
