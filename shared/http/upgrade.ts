import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { v4 as uuid } from 'uuid';
import type { WebSocketServer } from 'ws';
import type { Deps } from '../wiring/deps.js';
import { Forbidden, Invalid } from '../core/errors.js';
import { requestGate, type LoadedFunction } from './adapter.js';
import { errorAnswer, rawAnswer } from './answer.js';
import { compileRoute } from './compiled-route.js';

export type Upgrader = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * The platform's sockets only send (the metrics relay): a client's message is at most this big,
 * and a bigger one closes that socket with 1009 (ws's default would buffer 100 MiB per message).
 */
export const MAX_WS_PAYLOAD = 4 * 1024;
/** Open WebSockets per user (user or job token), across the functions of this process. */
export const MAX_SOCKETS_PER_USER = 16;

/**
 * WebSocket upgrades for the functions that export `upgrade`: the same gate as every request
 * (the token may come as ?token=, since browsers cannot set headers), then the handler gets
 * the open socket. A refusal is answered as HTTP 403 {msg} before the upgrade, also for a user
 * who already has MAX_SOCKETS_PER_USER open.
 */
export function createUpgrader(fns: LoadedFunction[], deps: Deps): Upgrader {
  // `ws` is loaded only by a process that serves a WebSocket: the others start without it
  // (a function process's cold start is mostly module loading; docs/benchmarks.md).
  let wss: Promise<WebSocketServer> | undefined;
  const server = () => (wss ??= import('ws').then(({ WebSocketServer: Server }) => new Server({ noServer: true, maxPayload: MAX_WS_PAYLOAD })));
  const openPerUser = new Map<string, number>();
  /** Counts a socket of the user until its connection closes; false when the user is at the bound. */
  const claim = (user: string, socket: Duplex): boolean => {
    const open = openPerUser.get(user) ?? 0;
    if (open >= MAX_SOCKETS_PER_USER) return false;
    openPerUser.set(user, open + 1);
    socket.once('close', () => {
      const left = (openPerUser.get(user) ?? 1) - 1;
      if (left > 0) openPerUser.set(user, left);
      else openPerUser.delete(user);
    });
    return true;
  };
  const table = fns.filter((fn) => fn.upgrade).map((fn) => ({ fn, pattern: compileRoute(fn.route).pattern, gate: requestGate(fn.route, deps), log: deps.log.child({ component: fn.route.name }) }));
  if (table.length > 0) server().catch((err: unknown) => deps.log.error('the WebSocket library failed to load', { err: (err as Error).message }));
  return (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const requestId = (req.headers['x-request-id'] as string | undefined) || uuid();
    let hit: (typeof table)[number] | undefined;
    let matched: Record<string, string> | null = null;
    for (const t of table) if (!hit && (matched = t.pattern.match(url.pathname))) hit = t;
    const refuse = (err: unknown, log = deps.log) => void socket.end(rawAnswer(errorAnswer(err, log, requestId), { 'x-request-id': requestId }));
    if (!hit?.fn.upgrade || !matched) return refuse(new Invalid(`no WebSocket at ${url.pathname}`));
    const log = hit.log.child({ request_id: requestId });
    const query = Object.fromEntries(url.searchParams);
    hit
      .gate('GET', url.pathname, req.headers.authorization, query.token, matched)
      .then(async ({ params, principal }) => {
        const wss = await server();
        // The client may have gone while the token was checked: nothing to open, nothing to count.
        if (socket.destroyed) return;
        const owner = principal.kind === 'user' || principal.kind === 'job' ? principal.username : undefined;
        if (owner !== undefined && !claim(owner, socket)) {
          return refuse(new Forbidden(`user ${owner} already has ${MAX_SOCKETS_PER_USER} WebSockets open, the most allowed; close one first`));
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          log.info('websocket opened', { path: url.pathname });
          // A message over MAX_WS_PAYLOAD (or any protocol error) is reported here; ws then closes the socket.
          ws.on('error', (err) => log.info('websocket closed on a client error', { err: err.message }));
          hit.fn.upgrade?.({ params, query, principal, requestId, ws, log }, deps).catch((err: unknown) => {
            log.error('websocket handler failed', { err: (err as Error).message });
            ws.close(1011, 'internal error');
          });
        });
      })
      .catch((err: unknown) => refuse(err, log));
  };
}
