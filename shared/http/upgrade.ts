import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { v4 as uuid } from 'uuid';
import { WebSocketServer } from 'ws';
import type { Deps } from '../deps.js';
import { isClientError, Invalid } from '../errors.js';
import { requestGate, type LoadedFunction } from './adapter.js';
import { compilePath } from './path-pattern.js';

export type Upgrader = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * WebSocket upgrades for the functions that export `upgrade`: the same gate as every request
 * (the token may come as ?token=, since browsers cannot set headers), then the handler gets
 * the open socket. A refusal is answered as HTTP 403 {msg} before the upgrade.
 */
export function createUpgrader(fns: LoadedFunction[], deps: Deps): Upgrader {
  const wss = new WebSocketServer({ noServer: true });
  const table = fns
    .filter((fn) => fn.upgrade)
    .map((fn) => ({ fn, pattern: compilePath(fn.route.path), gate: requestGate(fn.route, deps), log: deps.log.child({ component: fn.route.name }) }));
  return (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const requestId = (req.headers['x-request-id'] as string | undefined) || uuid();
    const hit = table.find((t) => t.pattern.regex.test(url.pathname));
    const refuse = (status: number, msg: string) => {
      const body = JSON.stringify({ msg });
      socket.end(`HTTP/1.1 ${status} ${status === 403 ? 'Forbidden' : 'Service Unavailable'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nx-mlp-error: ${body}\r\nconnection: close\r\n\r\n${body}`);
    };
    if (!hit?.fn.upgrade) return refuse(403, new Invalid(`no WebSocket at ${url.pathname}`).message);
    const log = hit.log.child({ request_id: requestId });
    const query = Object.fromEntries(url.searchParams);
    hit
      .gate('GET', url.pathname, req.headers.authorization, query.token)
      .then(({ params, principal }) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          log.info('websocket opened', { path: url.pathname });
          hit.fn.upgrade?.({ params, query, principal, requestId, ws, log }, deps).catch((err: unknown) => {
            log.error('websocket handler failed', { err: (err as Error).message });
            ws.close(1011, 'internal error');
          });
        });
      })
      .catch((err: unknown) => {
        if (isClientError(err)) return refuse(403, err.message);
        log.error('websocket refused by a fault', { err: (err as Error).message });
        refuse(503, `internal error (request ${requestId}); the platform logged the cause`);
      });
  };
}
