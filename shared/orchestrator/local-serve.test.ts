import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { prepareServeSocket, serveSocketPath, sweepServeSockets } from './local-serve.js';

t.test('the sweep removes only folders nobody serves in and nobody is starting in', async (t) => {
  const state = mkdtempSync(path.join(tmpdir(), 'mlp-sweep-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  const stale = serveSocketPath(state, 'stale');
  const starting = serveSocketPath(state, 'starting');
  const live = serveSocketPath(state, 'live');
  for (const s of [stale, starting, live]) prepareServeSocket(s, undefined);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(live, resolve));
  t.teardown(() => server.close());
  // A server launched while the sweep runs has no socket yet: its folder looks exactly like a stale one.
  await sweepServeSockets(state, (id) => id === 'starting');
  t.notOk(existsSync(path.dirname(stale)), 'a folder whose socket nobody listens on goes');
  t.ok(existsSync(path.dirname(starting)), 'a folder of a server being launched stays');
  t.ok(existsSync(path.dirname(live)), 'a folder of a live server stays');
});

t.test('no apps folder yet: nothing to sweep', async (t) => {
  const state = mkdtempSync(path.join(tmpdir(), 'mlp-sweep-'));
  t.teardown(() => rmSync(state, { recursive: true, force: true }));
  await t.resolves(sweepServeSockets(state));
  mkdirSync(path.join(state, 'apps'));
  await t.resolves(sweepServeSockets(state));
});

t.test('a socket path beyond sun_path is refused, naming the fix', async (t) => {
  t.throws(() => prepareServeSocket(serveSocketPath(`/${'x'.repeat(100)}`, 'id'), undefined), /choose a shorter MLP_ROOT/);
});
