import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import WebSocket from 'ws';
import { TRIES_PER_USER } from '../../functions/users-token/attempts.js';
import { MAX_SOCKETS_PER_USER } from '../../shared/http/upgrade.js';
import { MAX_EPOCHS, PUBLISH_LIMIT } from '../../shared/metrics/bounds.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { startTestPlatform, type Answer, type TestPlatform } from '../helpers/platform.js';
import { until } from '../helpers/poll.js';

// Floods: 50,000 metrics posted at ~1,150/s were all accepted and another user's metric
// then took 25.8 s to appear; WebSocket messages of 95 MiB were accepted; 64 parallel wrong-password
// requests ran unthrottled and held up another user's WebDAV GET (scrypt shares the thread pool
// with file I/O). The platform's clock is frozen here, so every token bucket holds exactly its burst
// and the counts below are exact; nothing is measured in milliseconds.
// Seen failing on 57e3bf8 before the fix: all 250 metrics were accepted and epoch 10000 too; bob's
// metric was stored only after alice's whole backlog of 3000; the 1 MiB message and a 17th
// socket were accepted; all 64 wrong-password tries were hashed (no "too many"), and most of them
// answered before bob's WebDAV GET did.

const WAIT_MS = 60_000;
const REFUSED = 'wrong username or password, or the user is deactivated';
const PUBLISH_BURST = PUBLISH_LIMIT.burst;
const SOCKETS_PER_USER = MAX_SOCKETS_PER_USER;
const TOKEN_TRIES_PER_USER = TRIES_PER_USER.burst;

interface Open {
  ws: WebSocket;
  got: { epoch: number }[];
  closed: Promise<{ code: number; reason: string }>;
}

function open(url: string): Promise<Open> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const got: { epoch: number }[] = [];
    const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: String(reason) })));
    ws.on('message', (data) => got.push(JSON.parse(String(data)) as { epoch: number }));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => reject(Object.assign(new Error(`refused with ${res.statusCode}`), { status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') })));
    });
    ws.once('error', reject);
    ws.once('open', () => resolve({ ws, got, closed }));
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  await until(check, Boolean, what, { tries: WAIT_MS / 50 + 2 });
}

const msgOf = (a: Answer) => (a.json as { msg?: string } | undefined)?.msg ?? '';

t.test("floods are bounded and one user's flood does not delay another", async (t) => {
  const clock = Date.now();
  const p: TestPlatform = await startTestPlatform({ MLP_JOB_SANDBOX: 'off' }, { now: () => new Date(clock) });
  t.teardown(() => p.close());
  const tokens: Record<string, string> = {};
  // carol only ever gets wrong passwords (her bucket of tries stays full until then).
  await p.call('POST', '/api/v1/users', { body: { username: 'carol', password: 'password1' } });
  for (const user of ['alice', 'bob', 'dave']) {
    await p.call('POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
    tokens[user] = (await p.call('GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] })).json as string;
    const home = storagePaths(p.root).home(user);
    mkdirSync(home, { recursive: true });
    writeFileSync(path.join(home, 'wait.mjs'), 'setInterval(() => {}, 1000)');
  }
  const token = (user: string) => tokens[user] ?? '';
  const job = async (user: string, name: string) => {
    const a = await p.call('POST', `/api/v1/users/${user}/jobs`, { token: token(user), body: { name, entry: 'wait.mjs', cpu: 0.5 } });
    t.equal(a.status, 201, `${user}'s job ${name} is created (${a.text})`);
  };
  const publish = (user: string, name: string, epoch: number) =>
    p.call('POST', `/api/v1/users/${user}/job_metrics/${name}`, { token: token(user), body: { epoch, accuracy: 0.5, loss: 1, progress: 10 } });
  const stored = async (user: string, name: string) => ((await p.call('GET', `/api/v1/users/${user}/job_metrics/${name}`, { token: token(user) })).json as unknown[]).length;
  const wsUrl = (user: string, name: string) => `${p.url.replace('http', 'ws')}/api/v1/users/${user}/job_metrics/${name}?token=${token(user)}`;
  await job('alice', 'flood');
  await job('alice', 'storm');
  await job('bob', 'train');
  await job('dave', 'train');

  t.test('metrics beyond the epoch bound or the per-job rate are refused with 403 {msg}', async (t) => {
    const big = await publish('bob', 'train', MAX_EPOCHS);
    t.equal(big.status, 403, `epoch ${MAX_EPOCHS} is refused (got ${big.status} ${big.text})`);
    t.match(msgOf(big), /epoch/, 'the msg names the epoch bound');
    t.equal((await publish('bob', 'train', MAX_EPOCHS - 1)).status, 200, 'the last epoch allowed is accepted');
    const answers: Answer[] = [];
    for (let from = 0; from < PUBLISH_BURST + 50; from += 25) {
      answers.push(...(await Promise.all(Array.from({ length: 25 }, (_, i) => publish('alice', 'flood', from + i)))));
    }
    const accepted = answers.filter((a) => a.status === 200).length;
    const limited = answers.filter((a) => a.status === 403 && /too many metrics/.test(msgOf(a)));
    t.equal(accepted, PUBLISH_BURST, `exactly the burst is accepted while no time passes (got ${accepted} of ${answers.length})`);
    t.equal(limited.length, answers.length - PUBLISH_BURST, 'every other one is refused as too many');
    t.same(Object.keys((limited[0]?.json as object | undefined) ?? {}), ['msg'], 'the refusal is {msg}');
    t.equal((await publish('bob', 'train', 1)).status, 200, "another job's publishing is not limited by alice's");
  });

  t.test("a flood on the bus does not hold up another user's metric", async (t) => {
    const bob = await open(wsUrl('bob', 'train'));
    t.teardown(() => bob.ws.close());
    await waitFor("bob's history", () => bob.got.length >= 2);
    // A script publishing straight to Kafka passes no HTTP limit: 3000 metrics land on the topic at
    // once, and bob's right behind them. The relay stores in batches as fast as the store takes them,
    // so whether bob waited for the flood is read from the order of the writes (created_at), not
    // from the time: with turns, his metric goes in a batch before the last of alice's backlog.
    const uid = async (user: string, name: string) => ((await p.deps.store.collection('job').get(`${user}/${name}`)) as { uid: string } | null)?.uid ?? '';
    const FLOOD = 3000;
    const bobMetric = { key: 'bob/train', value: JSON.stringify({ user: 'bob', name: 'train', epoch: 2, accuracy: 0.1, loss: 1, progress: 1 }), headers: { 'mlp-job-id': await uid('bob', 'train') } };
    const storm = await uid('alice', 'storm');
    await p.deps.bus.publish(p.deps.config.metricsTopic, [
      ...Array.from({ length: FLOOD }, (_, epoch) => ({
        key: 'alice/storm',
        value: JSON.stringify({ user: 'alice', name: 'storm', epoch, accuracy: 0.1, loss: 1, progress: 1 }),
        headers: { 'mlp-job-id': storm },
      })),
      bobMetric,
    ]);
    await waitFor("bob's metric", () => bob.got.some((m) => m.epoch === 2));
    let last = -1;
    let now = await stored('alice', 'storm');
    // Wait until alice's count stops growing.
    for (let i = 0; i < WAIT_MS / 500 && now !== last; i++) {
      await new Promise((r) => setTimeout(r, 500));
      [last, now] = [now, await stored('alice', 'storm')];
    }
    const metrics = p.deps.store.collection<{ _id: string; created_at: string; version: number; updated_at: string }>('metrics');
    const bobAt = (await metrics.get('m/bob/train/2'))?.created_at ?? '';
    const after = (await metrics.find({ kind: 'metric', user: 'alice', name: 'storm' })).filter((d) => d.created_at > bobAt).length;
    t.ok(bobAt !== '' && after > 0, `bob's metric was stored before alice's backlog was drained (${after} of alice's ${now} stored after it)`);
    t.ok(now <= FLOOD, 'no more than were sent');
  });

  t.test('an oversized WebSocket message closes that socket; the platform keeps answering', async (t) => {
    const s = await open(wsUrl('alice', 'flood'));
    s.ws.send('x'.repeat(1024 * 1024));
    const closed = await Promise.race([s.closed, new Promise<{ code: number; reason: string }>((r) => setTimeout(() => r({ code: 0, reason: 'still open' }), WAIT_MS).unref())]);
    t.equal(closed.code, 1009, `closed as too big (got ${closed.code} ${closed.reason})`);
    t.equal((await p.call('GET', '/api/v1/auth', { token: token('alice') })).status, 200, 'the platform still answers');
  });

  t.test('sockets beyond the per-user cap are refused with 403 {msg}', async (t) => {
    const sockets: Open[] = [];
    t.teardown(() => sockets.forEach((s) => s.ws.close()));
    for (let i = 0; i < SOCKETS_PER_USER; i++) sockets.push(await open(wsUrl('dave', 'train')));
    const extra = await open(wsUrl('dave', 'train')).then(
      (s) => (sockets.push(s), { status: 101, body: '' }),
      (err: { status?: number; body?: string }) => ({ status: err.status ?? 0, body: err.body ?? '' }),
    );
    t.equal(extra.status, 403, `socket ${SOCKETS_PER_USER + 1} is refused`);
    t.match(JSON.parse(extra.body || '{}'), { msg: /WebSocket/ }, 'with {msg} saying why');
    const other = await open(wsUrl('bob', 'train'));
    t.equal(other.ws.readyState, WebSocket.OPEN, 'another user still opens one');
    other.ws.close();
    const first = sockets.shift();
    first?.ws.close();
    await first?.closed;
    let again: Open | undefined;
    await waitFor('a socket once one closed', async () => (again = await open(wsUrl('dave', 'train')).catch(() => undefined)) !== undefined);
    if (again) sockets.push(again);
    t.pass('closing one makes room for another');
  });

  t.test('token requests: rate-limited per user and per address; a missing user looks like a wrong password', async (t) => {
    writeFileSync(path.join(storagePaths(p.root).home('bob'), 'notes.txt'), "bob's notes\n");
    const order: string[] = [];
    const tries = Array.from({ length: 64 }, () =>
      p.call('GET', '/api/v1/users/carol/token', { basic: ['carol', 'wrong-password'] }).then((a) => (order.push(msgOf(a) === REFUSED ? 'hashed' : 'limited'), a)),
    );
    const get = p.call('GET', '/data/bob/.home/notes.txt', { token: token('bob') }).then((a) => (order.push('get'), a));
    const answers = await Promise.all(tries);
    t.equal((await get).status, 200, "bob's GET is answered");
    t.equal(answers.filter((a) => a.status === 403 && msgOf(a) === REFUSED).length, TOKEN_TRIES_PER_USER, 'the burst of tries is checked');
    const limited = answers.filter((a) => a.status === 403 && /too many/.test(msgOf(a)));
    t.equal(limited.length, 64 - TOKEN_TRIES_PER_USER, 'every try beyond it is refused as too many, without hashing');
    const hashedBeforeGet = order.slice(0, order.indexOf('get')).filter((o) => o === 'hashed').length;
    t.ok(hashedBeforeGet < 32, `bob's GET did not wait behind the tries (${hashedBeforeGet} hashed tries answered before it)`);

    const ghost: Answer[] = [];
    for (let i = 0; i <= TOKEN_TRIES_PER_USER; i++) ghost.push(await p.call('GET', '/api/v1/users/ghost/token', { basic: ['ghost', 'password1'] }));
    const wrong = answers.find((a) => msgOf(a) === REFUSED);
    for (const a of ghost.slice(0, TOKEN_TRIES_PER_USER)) t.same([a.status, a.json], [wrong?.status, wrong?.json], 'a missing user gets the wrong-password answer');
    const ghostLimited = ghost[TOKEN_TRIES_PER_USER];
    t.equal(ghostLimited?.status, 403);
    t.equal(msgOf(ghostLimited as Answer).replace('ghost', 'X'), msgOf(limited[0] as Answer).replace('carol', 'X'), 'and the same rate limit, in the same words');

    // Another address-wide bound: many names from one address. Locally every client is 127.0.0.1.
    let byAddress: Answer | undefined;
    for (let i = 0; i < 200 && !byAddress; i++) {
      const name = `name${String.fromCharCode(97 + Math.floor(i / 26), 97 + (i % 26))}`;
      const a = await p.call('GET', `/api/v1/users/${name}/token`, { basic: [name, 'password1'] });
      if (/too many/.test(msgOf(a))) byAddress = a;
      else t.equal(msgOf(a), REFUSED, `${name}: the wrong-password answer until the address's bound`);
    }
    t.equal(byAddress?.status, 403, 'tries from one address beyond its bound are refused');
    t.match(msgOf(byAddress as Answer), /address/, 'saying it is the address');
  });
});
