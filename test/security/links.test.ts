import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { storagePaths } from '../../shared/storage/paths.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { until as poll } from '../helpers/poll.js';

// Symlinks once escaped /data and the job log: a job is someone else's code and can plant links
// in its home and workspace. Each attack below goes through WebDAV or the log route with the
// attacker's own token and must neither reveal nor change anything outside the attacker's folder.
// The links in the home and datasets are planted on disk where a job would have put them (a job
// could, before the sandbox, and the cluster's WebDAV function mounts the whole volume); the log's
// link is planted by a job script in its own workspace, which stays writable in any sandbox.
// Seen failing on 57e3bf8 before the fix: GET/HEAD/Range returned the signing key and bob's files,
// PUT overwrote bob's ready dataset and home, DELETE removed bob's file, MKCOL made a folder in bob's
// home, listings and PROPFIND through a linked root showed bob's files, and the log (the job's own
// link, a workspace or log folder that is a link, with and without ?follow=1) returned bob's file.

interface Res {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

/** A raw request, so the path goes out exactly as written. */
function raw(base: string, method: string, urlPath: string, token: string, opts: { body?: string; headers?: Record<string, string> } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = http.request({ host: url.hostname, port: url.port, method, path: urlPath, headers: { authorization: `Bearer ${token}`, ...(opts.headers ?? {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

function refusedAsLink(t: Test, r: Res, what: string) {
  t.equal(r.status, 403, `${what}: 403 (got ${r.status} ${r.text.slice(0, 200)})`);
  t.match(JSON.parse(r.text || '{}'), { msg: /link/ }, `${what}: the msg names the link`);
}

const BOB_HOME_FILE = 'bob-private-home-content '.repeat(40);
const BOB_DATASET_FILE = 'bob-private-dataset-row\n'.repeat(40);
const BOB_DIARY = 'bob-diary-entry\n'.repeat(100);

// MLP_JOB_SANDBOX=off: what is tested here is the platform's side, whatever confines the job.
t.test('links planted in a home, a dataset or a workspace are never followed', async (t) => {
  const p: TestPlatform = await startTestPlatform({ MLP_TENANT_ROM: String(64 * 1024 * 1024), MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '4000', MLP_JOB_SANDBOX: 'off' });
  t.teardown(() => p.close());
  const tokens: Record<string, string> = {};
  for (const user of ['alice', 'bob', 'carol']) {
    await p.call('POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
    tokens[user] = (await p.call('GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] })).json as string;
  }
  const alice = tokens.alice ?? '';
  const dav = (method: string, urlPath: string, opts: { body?: string; headers?: Record<string, string> } = {}, token = alice) => raw(p.url, method, urlPath, token, opts);
  const paths = storagePaths(p.root);

  // Bob's belongings: a ready dataset and a home file.
  const bob = tokens.bob ?? '';
  t.equal((await p.call('POST', '/api/v1/users/bob/datasets', { token: bob, body: { name: 'bobdata', size: 4096 } })).status, 201);
  t.equal((await raw(p.url, 'PUT', '/data/bob/bobdata/rows.csv', bob, { body: BOB_DATASET_FILE })).status, 201);
  t.equal((await p.call('PUT', '/api/v1/users/bob/datasets/bobdata:heartbeat', { token: bob, body: { state: 'ready', progress: 100 } })).status, 200);
  t.equal((await raw(p.url, 'PUT', '/data/bob/.home/notes.txt', bob, { body: BOB_HOME_FILE })).status, 201);
  t.equal((await raw(p.url, 'PUT', '/data/bob/.home/diary.txt', bob, { body: BOB_DIARY })).status, 201);
  const bobRows = path.join(paths.dataset('bob', 'bobdata'), 'rows.csv');
  const bobNotes = path.join(paths.home('bob'), 'notes.txt');
  const signingKey = readFileSync(path.join(p.root, 'secrets', 'secret'), 'utf8').trim();

  // What a job of alice's leaves behind (relative links, as a job would write them).
  const aliceHome = paths.home('alice');
  mkdirSync(aliceHome, { recursive: true });
  symlinkSync('../../../secrets/secret', path.join(aliceHome, 'key.txt'));
  symlinkSync('../../bob', path.join(aliceHome, 'bobdir'));
  writeFileSync(path.join(aliceHome, 'own.txt'), 'alice own');
  t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'mine', size: 4096 } })).status, 201);
  mkdirSync(paths.dataset('alice', 'mine'), { recursive: true });
  symlinkSync('../../bob/bobdata', path.join(paths.dataset('alice', 'mine'), 'bobready'));
  // A dataset folder that is itself a link to bob's, and a home that is one (carol's).
  t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token: alice, body: { name: 'linked', size: 4096 } })).status, 201);
  rmSync(paths.dataset('alice', 'linked'), { recursive: true, force: true });
  symlinkSync('../bob/bobdata', paths.dataset('alice', 'linked'));
  mkdirSync(path.dirname(paths.home('carol')), { recursive: true });
  symlinkSync('../bob/.home', paths.home('carol'));

  t.test('reads: GET, HEAD and Range do not follow a link', async (t) => {
    const key = await dav('GET', '/data/alice/.home/key.txt');
    refusedAsLink(t, key, 'GET of a link to the signing key');
    t.notMatch(key.text, signingKey, 'the key is not in the answer');
    const head = await dav('HEAD', '/data/alice/.home/key.txt');
    t.equal(head.status, 403, 'HEAD of a link: 403 (a HEAD answer has no body for the msg)');
    t.not(head.headers['content-length'], String(signingKey.length + 1), "the key's size is not told");
    const ranged = await dav('GET', '/data/alice/.home/key.txt', { headers: { range: 'bytes=0-9' } });
    refusedAsLink(t, ranged, 'Range of a link');
    t.notMatch(ranged.text, signingKey.slice(0, 10));
    const through = await dav('GET', '/data/alice/.home/bobdir/.home/notes.txt');
    refusedAsLink(t, through, 'GET through a linked folder');
    t.notMatch(through.text, 'bob-private');
    const carol = await dav('GET', '/data/carol/.home/notes.txt', {}, tokens.carol);
    refusedAsLink(t, carol, 'GET in a home that is a link');
    t.notMatch(carol.text, 'bob-private');
    t.equal((await dav('GET', '/data/alice/.home/own.txt')).text, 'alice own', 'real files still download');
  });

  t.test("listings and PROPFIND show neither a link's target nor its size", async (t) => {
    const list = await dav('GET', '/data/alice/.home/');
    t.equal(list.status, 200);
    t.same(JSON.parse(list.text), [{ path: 'own.txt', size: 9 }], 'links are left out of the listing');
    const pf = await dav('PROPFIND', '/data/alice/.home/', { headers: { depth: '1' } });
    t.equal(pf.status, 207);
    t.notMatch(pf.text, /key\.txt|bobdir/, 'PROPFIND leaves links out');
    t.notMatch(pf.text, /notes\.txt/);
    const carolList = await dav('GET', '/data/carol/.home/', {}, tokens.carol);
    refusedAsLink(t, carolList, 'the listing of a home that is a link');
    t.notMatch(carolList.text, 'notes.txt');
    const carolPf = await dav('PROPFIND', '/data/carol/.home/', { headers: { depth: '1' } }, tokens.carol);
    refusedAsLink(t, carolPf, 'PROPFIND of a home that is a link');
    t.notMatch(carolPf.text, 'notes.txt');
    const linkedList = await dav('GET', '/data/alice/linked/');
    refusedAsLink(t, linkedList, 'the listing of a dataset folder that is a link');
    t.notMatch(linkedList.text, 'rows.csv');
    refusedAsLink(t, await dav('PROPFIND', '/data/alice/.home/bobdir', { headers: { depth: '1' } }), 'PROPFIND of a link');
  });

  t.test('writes: PUT and MKCOL do not follow a link', async (t) => {
    refusedAsLink(t, await dav('PUT', '/data/alice/mine/bobready/rows.csv', { body: 'overwritten' }), "PUT through a link into bob's ready dataset");
    t.equal(readFileSync(bobRows, 'utf8'), BOB_DATASET_FILE, "bob's dataset is unchanged");
    refusedAsLink(t, await dav('PUT', '/data/alice/.home/bobdir/.home/notes.txt', { body: 'overwritten' }), "PUT through a link into bob's home");
    refusedAsLink(t, await dav('PUT', '/data/alice/linked/rows.csv', { body: 'overwritten' }), 'PUT into a dataset folder that is a link');
    refusedAsLink(t, await dav('PUT', '/data/carol/.home/notes.txt', { body: 'overwritten' }, tokens.carol), 'PUT into a home that is a link');
    t.equal(readFileSync(bobNotes, 'utf8'), BOB_HOME_FILE, "bob's home file is unchanged");
    refusedAsLink(t, await dav('PUT', '/data/alice/.home/key.txt', { body: 'overwritten' }), 'PUT onto a link');
    t.equal(readFileSync(path.join(p.root, 'secrets', 'secret'), 'utf8').trim(), signingKey, 'the key is unchanged');
    refusedAsLink(t, await dav('MKCOL', '/data/alice/.home/bobdir/.home/planted'), 'MKCOL through a link');
    t.notOk(existsSync(path.join(paths.home('bob'), 'planted')), "nothing was made in bob's home");
    t.equal((await dav('PUT', '/data/alice/mine/own.csv', { body: 'a,b' })).status, 201, 'real folders still take uploads');
  });

  t.test('deletes: DELETE removes a link itself at most, never its target', async (t) => {
    refusedAsLink(t, await dav('DELETE', '/data/alice/.home/bobdir/.home/notes.txt'), 'DELETE through a link');
    t.equal(readFileSync(bobNotes, 'utf8'), BOB_HOME_FILE, "bob's home file is still there");
    refusedAsLink(t, await dav('DELETE', '/data/carol/.home/notes.txt', {}, tokens.carol), 'DELETE in a home that is a link');
    refusedAsLink(t, await dav('DELETE', '/data/alice/linked'), 'DELETE of a dataset folder that is a link');
    t.equal(readFileSync(bobRows, 'utf8'), BOB_DATASET_FILE, "bob's dataset is still whole");
    t.equal((await dav('DELETE', '/data/alice/.home/bobdir')).status, 204, 'the link itself may go');
    t.ok(existsSync(bobNotes), 'and its target stays');
    t.equal((await dav('DELETE', '/data/alice/mine')).status, 204, 'discarding an upload that holds a link removes the link only');
    t.equal(readFileSync(bobRows, 'utf8'), BOB_DATASET_FILE);
  });

  t.test('the job log does not follow a link the job put in its place', async (t) => {
    // The job swaps its own log for a link to a file in bob's home (4 levels up from log/ is MLP_ROOT).
    const script = `
      import { rmSync, symlinkSync, existsSync } from 'node:fs';
      console.log('started');
      while (!existsSync('go')) await new Promise((r) => setTimeout(r, 50));
      rmSync('log/job.log');
      symlinkSync('../../../../datasets/bob/.home/diary.txt', 'log/job.log');
      console.log('after the swap');
    `;
    writeFileSync(path.join(aliceHome, 'swap.mjs'), script);
    const jobs = (method: string, suffix = '', body?: unknown) => p.call(method, `/api/v1/users/alice/jobs${suffix}`, { token: alice, body });
    const until = (name: string, states: string[]) =>
      poll(
        async () => (await jobs('GET', `/${name}`)).json as { state: string },
        (j) => states.includes(j.state),
        `job ${name} reaching ${states.join('/')}`,
        { tries: 400, before: () => p.call('POST', '/api/v1/reconcile/jobs', { token: p.deps.serviceToken }) },
      );
    t.equal((await jobs('POST', '', { name: 'swap', entry: 'swap.mjs', cpu: 0.5 })).status, 201);
    await until('swap', ['running', 'finished', 'error']);
    const workspace = paths.job('alice', 'swap');
    // Follow the log while the job swaps it: what streams is the job's own output, never bob's file.
    let seen = '';
    const followed = new Promise<Res>((resolve, reject) => {
      const req = http.get(`${p.url}/api/v1/users/alice/jobs/swap/log?follow=1`, { headers: { authorization: `Bearer ${alice}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          seen += c.toString('utf8');
          if (seen.includes('started') && !existsSync(path.join(workspace, 'go'))) writeFileSync(path.join(workspace, 'go'), '');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    const live = await followed;
    t.equal(live.status, 200);
    t.notMatch(live.text, 'bob-diary', "the followed log never shows bob's file");
    t.match(live.text, 'after the swap', 'it shows what the job wrote after the swap');
    await until('swap', ['finished', 'error']);
    const after = await jobs('GET', '/swap/log');
    t.notMatch(after.text, 'bob-diary', "the log read after the job never shows bob's file");
    t.equal(after.status, 403, `the log that is now a link is refused (got ${after.status})`);
    t.match(after.json, { msg: /link/ });
    const followAfter = await jobs('GET', '/swap/log?follow=1');
    t.notMatch(followAfter.text, 'bob-diary', 'nor with ?follow=1');
    t.equal(followAfter.status, 403);
  });

  t.test('nor a workspace, or its log folder, that is a link', async (t) => {
    // Bob's home holds a log/job.log of his own; alice's finished job's workspace becomes a link to it.
    mkdirSync(path.join(paths.home('bob'), 'log'), { recursive: true });
    writeFileSync(path.join(paths.home('bob'), 'log', 'job.log'), BOB_DIARY);
    const workspace = paths.job('alice', 'swap');
    rmSync(workspace, { recursive: true, force: true });
    symlinkSync('../../datasets/bob/.home', workspace);
    for (const suffix of ['', '?follow=1']) {
      const r = await p.call('GET', `/api/v1/users/alice/jobs/swap/log${suffix}`, { token: alice });
      t.notMatch(r.text, 'bob-diary', `the log${suffix} of a workspace that is a link is not bob's file`);
      t.equal(r.status, 403);
      t.match(r.json, { msg: /link/ });
    }
    rmSync(workspace);
    mkdirSync(workspace);
    symlinkSync('../../../datasets/bob/.home/log', path.join(workspace, 'log'));
    const r = await p.call('GET', '/api/v1/users/alice/jobs/swap/log', { token: alice });
    t.notMatch(r.text, 'bob-diary', 'nor the log of a log folder that is a link');
    t.equal(r.status, 403);
  });
});
