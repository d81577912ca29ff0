import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import t from 'tap';
import { storagePaths } from '../../shared/storage/paths.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';
import { until as poll } from '../helpers/poll.js';

// GET …/log once corrupted logs over 64 KiB: one buffer was reused across writes without
// waiting for drain, so a copy of a large log differed from byte 65,537 on. The log must arrive
// byte for byte, whole and followed (?follow=1 ends when the job ends).
// Seen failing on 57e3bf8 before the fix: the downloaded log differed from what the job wrote.

const LINES = 120_000;
// The job writes part of its log, waits for a `go` file in its workspace, writes the rest, ends.
const SCRIPT = `
  import { existsSync } from 'node:fs';
  const line = (i) => 'line ' + i + ' ' + String(i * 7919 % 100003).padStart(6, '0') + ' ' + 'abcdefghij'.repeat(4) + '\\n';
  const write = (from, to) => { let s = ''; for (let i = from; i < to; i++) { s += line(i); if (s.length > 60000) { process.stdout.write(s); s = ''; } } process.stdout.write(s); };
  write(0, ${LINES / 2});
  while (!existsSync('go')) await new Promise((r) => setTimeout(r, 50));
  write(${LINES / 2}, ${LINES});
`;

/** What the job writes: lines [from, to). */
function expected(from = 0, to = LINES): Buffer {
  let s = '';
  for (let i = from; i < to; i++) s += `line ${i} ${String((i * 7919) % 100003).padStart(6, '0')} ${'abcdefghij'.repeat(4)}\n`;
  return Buffer.from(s);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A GET read slowly at first, so the server's writes back up (what made the old code reuse a buffer still queued). */
function slowGet(url: string, token: string, onData?: (all: Buffer) => void): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      let paused = false;
      res.on('data', (c: Buffer) => {
        chunks.push(c);
        onData?.(Buffer.concat(chunks));
        if (!paused && chunks.length === 1) {
          paused = true;
          res.pause();
          setTimeout(() => res.resume(), 300);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

// MLP_JOB_SANDBOX=off: what is tested here is the platform's side, whatever confines the job.
t.test('a job log larger than 64 KiB arrives byte for byte, fetched and followed', async (t) => {
  const p: TestPlatform = await startTestPlatform({ MLP_TENANT_CPU: '2', MLP_TENANT_RAM: '4000', MLP_JOB_SANDBOX: 'off' });
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const home = storagePaths(p.root).home('alice');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'big.mjs'), SCRIPT);
  const jobs = (method: string, suffix = '', body?: unknown) => p.call(method, `/api/v1/users/alice/jobs${suffix}`, { token, body });
  const until = (name: string, states: string[]) =>
    poll(
      async () => (await jobs('GET', `/${name}`)).json as { state: string },
      (j) => states.includes(j.state),
      `job ${name} reaching ${states.join('/')}`,
      { before: () => p.call('POST', '/api/v1/reconcile/jobs', { token: p.deps.serviceToken }) },
    );
  const want = expected();
  const firstHalf = expected(0, LINES / 2).length;
  t.ok(want.length > 64 * 1024 * 50, `the log is large (${want.length} bytes)`);

  t.equal((await jobs('POST', '', { name: 'big', entry: 'big.mjs', cpu: 0.5 })).status, 201);
  await until('big', ['running', 'finished', 'error']);
  const workspace = storagePaths(p.root).job('alice', 'big');
  // Followed from while the job runs: the first half is there, then `go` lets it write the rest.
  const followed = await slowGet(`${p.url}/api/v1/users/alice/jobs/big/log?follow=1`, token, (all) => {
    if (all.length >= firstHalf && !existsSync(path.join(workspace, 'go'))) writeFileSync(path.join(workspace, 'go'), '');
  });
  t.equal(followed.status, 200);
  t.equal(followed.body.length, want.length, 'the followed log has every byte and ends with the job');
  t.equal(sha(followed.body), sha(want), "the followed log is the job's output exactly");
  t.match(await until('big', ['finished', 'error']), { state: 'finished' });

  const whole = await slowGet(`${p.url}/api/v1/users/alice/jobs/big/log`, token);
  t.equal(whole.status, 200);
  t.equal(whole.body.length, want.length);
  t.equal(sha(whole.body), sha(want), "the fetched log is the job's output exactly");
  const again = await slowGet(`${p.url}/api/v1/users/alice/jobs/big/log?follow=1`, token);
  t.equal(sha(again.body), sha(want), '?follow=1 on an ended job answers the whole log and ends');
});
