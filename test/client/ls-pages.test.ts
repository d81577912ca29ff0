import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import t from 'tap';
import { api, PAGE_SIZE } from '../../bin/src/api.js';
import * as jobs from '../../bin/src/jobs.js';
import { nextLink } from '../../shared/http/link-header.js';
import { insertJob } from '../helpers/job-record.js';
import { startTestPlatform } from '../helpers/platform.js';
import { spawnTs } from '../helpers/process.js';

// Pages: the `mlp` client's ls commands walk pages of 200 (Link rel="next"), so a long list
// never comes as one huge answer; what they print is unchanged.
const MAIN = path.resolve(import.meta.dirname, '../../bin/src/main.ts');
const letters = (i: number) => Array.from({ length: 3 }, (_, k) => String.fromCharCode(97 + (Math.floor(i / 26 ** (2 - k)) % 26))).join('');

t.test('ls walks the list in pages of 200 and prints every object once, in creation order', async (t) => {
  const p = await startTestPlatform();
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const names = Array.from({ length: 450 }, (_, i) => `j${letters(449 - i)}`);
  for (const name of names) {
    await insertJob(p.deps.store, 'alice', name, { uid: `u-${name}`, entry: 'x.mjs' });
  }
  t.equal((await p.call('POST', '/api/v1/users/alice/datasets', { token, body: { name: 'one', size: 1 } })).status, 201);

  const client = api({ url: p.url, token });
  const sizes: number[] = [];
  for await (const page of client.pages<{ name: string }>('/api/v1/users/alice/jobs')) sizes.push(page.length);
  t.equal(PAGE_SIZE, 200);
  t.same(sizes, [200, 200, 50], 'three requests: 200, 200, 50');

  const printed: string[] = [];
  await jobs.list(client, 'alice', (line) => printed.push(line));
  t.same(
    printed.map((l) => l.split(/\s+/)[0]),
    names,
    'every job once, in creation order',
  );

  // The command itself, as a user runs it.
  const work = mkdtempSync(path.join(tmpdir(), 'mlp-ls-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const env = { MLP_CLIENT_CONFIG: path.join(work, 'config.json') };
  const mlp = async (...args: string[]) => {
    const run = spawnTs(t, MAIN, env, args);
    const { code } = await run.exited;
    return { code, out: run.output() };
  };
  t.equal((await mlp('login', '--url', p.url, '--user', 'alice', '--password', 'password1')).code, 0);
  const ls = await mlp('job', 'ls');
  t.equal(ls.code, 0);
  t.same(
    ls.out
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/\s+/)[0]),
    names,
    '`mlp job ls`: the 450 jobs',
  );
  t.match((await mlp('dataset', 'ls')).out, /^one\s+creating/m, '`mlp dataset ls`: one page');
  t.match((await mlp('model', 'ls')).out, /no models/, '`mlp model ls`: none');
  t.match((await mlp('app', 'ls')).out, /no apps/, '`mlp app ls`: none');
});

t.test('the client follows rel="next" only, and never to another server', async (t) => {
  t.equal(nextLink('</a?limit=2&after=x>; rel="next"'), '/a?limit=2&after=x');
  t.equal(nextLink('</p>; rel="prev", </n>; rel="next"'), '/n');
  t.equal(nextLink('</n>; rel="prev"'), undefined);
  t.equal(nextLink(null), undefined);
  const other = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', link: '<http://127.0.0.1:1/steal>; rel="next"' });
    res.end('[]');
  });
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  t.teardown(() => other.close());
  const client = api({ url: `http://127.0.0.1:${(other.address() as AddressInfo).port}`, token: 'secret' });
  await t.rejects(
    (async () => {
      for await (const page of client.pages('/api/v1/users/alice/jobs')) void page;
    })(),
    /on another server/,
  );
});
