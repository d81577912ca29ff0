import { EventEmitter } from 'node:events';
import t, { type Test } from 'tap';
import type { WebSocket } from 'ws';
import { bearer, testDeps } from '../../test/helpers/deps.js';
import { userWithToken } from '../../test/helpers/users.js';
import { until as poll } from '../../test/helpers/poll.js';
import { announceRevocation } from '../bus/revocations.js';
import type { Deps } from '../deps.js';
import { MAX_SOCKET_BACKLOG_BYTES } from './limits.js';
import { createRelay, type Relay } from './relay.js';
import { begin, history } from './store.js';

/** What the relay uses of a WebSocket, recording what it is sent and how it is closed. */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  sent: { epoch: number }[] = [];
  closed: { code: number; reason: string } | undefined;
  send(data: string) {
    this.sent.push(JSON.parse(data) as { epoch: number });
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
    this.readyState = 3;
    this.emit('close', code, reason);
  }
}

async function until(what: string, check: () => boolean): Promise<void> {
  await poll(check, Boolean, what, { tries: 402, ms: 25 });
}

async function setup(t: Test, recheckMs: number): Promise<{ deps: Deps; relay: Relay; open(): Promise<FakeSocket>; token: string }> {
  const deps = await testDeps(t);
  const token = (await userWithToken(deps, 'alice')).authorization.slice('Bearer '.length);
  await begin(deps, 'alice', 'train', 'u1');
  const relay = createRelay(deps, { recheckMs });
  await relay.start();
  t.teardown(() => relay.stop());
  return {
    deps,
    relay,
    token,
    async open() {
      const ws = new FakeSocket();
      const principal = await deps.auth.verifyBearer(bearer(token));
      await relay.attach(ws as unknown as WebSocket, 'alice', 'train', principal);
      return ws;
    },
  };
}

const metric = (epoch: number) => ({
  key: 'alice/train',
  value: JSON.stringify({ epoch, accuracy: 0.5, loss: 1, progress: 1 }),
  headers: { 'mlp-job-id': 'u1' },
  offset: String(epoch),
  partition: 0,
  topic: 't',
});

t.test('a logout announced on the bus closes the socket at once (no periodic check in this test)', async (t) => {
  const { deps, open, token } = await setup(t, 3_600_000);
  const ws = await open();
  const claims = await deps.tokens.verify(token);
  await deps.users.revoke('alice', { jti: claims.jti, exp: claims.exp }, 0);
  await announceRevocation(deps, { user: 'alice', jti: claims.jti });
  await until('the close', () => ws.closed !== undefined);
  t.same(ws.closed, { code: 1008, reason: 'token has been revoked (logged out)' });
});

t.test('without an announcement the periodic check closes it', async (t) => {
  const { deps, open } = await setup(t, 50);
  const ws = await open();
  await deps.users.deactivate('alice');
  await until('the close', () => ws.closed !== undefined);
  t.same(ws.closed, { code: 1008, reason: 'token is no longer valid: the user is deactivated' });
});

t.test('metrics are queued and stored in turn; stop handles every queued one; a slow reader is cut off', async (t) => {
  const { deps, relay, open } = await setup(t, 3_600_000);
  const ws = await open();
  for (let epoch = 0; epoch < 5; epoch++) await relay.handle(metric(epoch));
  await relay.handle(metric(10_000));
  await relay.idle();
  t.same(
    ws.sent.map((m) => m.epoch),
    [0, 1, 2, 3, 4],
    'in order; the epoch past the bound is dropped',
  );
  ws.bufferedAmount = MAX_SOCKET_BACKLOG_BYTES + 1;
  await relay.handle(metric(5));
  await relay.idle();
  t.match(ws.closed, { code: 1008, reason: /reads too slowly/ });
  for (let epoch = 6; epoch < 9; epoch++) await relay.handle(metric(epoch));
  await relay.stop();
  t.same(
    (await history(deps, 'alice', 'train')).map((m) => m.epoch),
    [0, 1, 2, 3, 4, 5, 6, 7, 8],
    'stored before stop returned',
  );
});
