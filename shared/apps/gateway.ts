import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { Deps } from '../wiring/deps.js';
import { Invalid, Unavailable } from '../core/errors.js';
import { errorAnswer, writeAnswer } from '../http/answer.js';
import { answerClientErrors, keepIdleConnections } from '../http/server.js';
import { DEFAULT_PATTERN } from '../core/validation.js';
import { readyApp } from './endpoint.js';
import { upstreamTarget } from './upstream.js';

const NAME = new RegExp(DEFAULT_PATTERN);
/** Bodies up to this size (with a declared length) are passed on whole rather than streamed. */
const SMALL_BODY = 1024 * 1024;
// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);
/** What the gateway never passes on: the user's token (the server needs none) and the host it was called by. */
const NOT_PASSED_ON = new Set([...HOP_BY_HOP, 'authorization', 'host']);

/**
 * The app gateway (docs/api.md#applications, MLP_APP_PORT): `/{user}/{app}/…` goes to the app's server with the
 * rest of the path, once the owner's token is checked and the app is ready; every refusal is
 * 403 {msg} and an app that does not answer 503 {msg}, like the API. The user's token is not
 * passed on: the server needs none.
 */
export function createAppGateway(deps: Deps): http.Server {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const log = deps.log.child({ component: 'app-gateway' });
  const server = http.createServer((req, res) => {
    const requestId = (req.headers['x-request-id'] as string | undefined) || randomUUID();
    const refuse = (err: unknown) => {
      writeAnswer(res, errorAnswer(err, log.child({ request_id: requestId }), requestId), req.complete ? undefined : { connection: 'close' });
    };
    void route(req, deps).then(
      ({ upstream, path, name }) => {
        // A TCP address, or a sandboxed server's Unix socket (the agent keeps either alive).
        const target = upstreamTarget(upstream);
        const headers: http.OutgoingHttpHeaders = { 'x-request-id': requestId, 'x-forwarded-for': req.socket.remoteAddress ?? '' };
        for (const key in req.headers) {
          const value = req.headers[key];
          if (value !== undefined && !NOT_PASSED_ON.has(key)) headers[key] = value;
        }
        const out = http.request({ ...target, method: req.method, path, headers, agent }, (answer) => {
          const back: http.OutgoingHttpHeaders = {};
          for (const key in answer.headers) {
            const value = answer.headers[key];
            if (value !== undefined && !HOP_BY_HOP.has(key)) back[key] = value;
          }
          // A small answer of known length leaves in one write with its headers (a profile showed
          // the socket writes as the gateway's largest cost); anything else streams.
          const length = Number(answer.headers['content-length'] ?? NaN);
          if (length <= SMALL_BODY) {
            collect(answer, (body) => {
              res.writeHead(answer.statusCode ?? 503, back);
              res.end(body);
            });
          } else {
            res.writeHead(answer.statusCode ?? 503, back);
            answer.pipe(res);
          }
        });
        out.on('error', (err) => {
          if (res.headersSent) return res.destroy(err);
          refuse(new Unavailable(`app ${name} is not answering (${err.message}); try again in a moment`));
        });
        const length = Number(req.headers['content-length'] ?? NaN);
        if (length <= SMALL_BODY) collect(req, (body) => out.end(body));
        else req.pipe(out);
      },
      (err: unknown) => refuse(err),
    );
  });
  server.on('close', () => agent.destroy());
  answerClientErrors(server);
  keepIdleConnections(server);
  return server;
}

/** Checks the path, the token and the app; answers where to send the request and with which path. */
async function route(req: http.IncomingMessage, deps: Deps): Promise<{ upstream: string; path: string; name: string }> {
  const { pathname, search } = splitTarget(req.url ?? '/');
  const m = /^\/([^/]+)\/([^/]+)(\/.*)?$/.exec(pathname);
  if (!m?.[1] || !m[2]) throw new Invalid(`use /{user}/{app}/… on the app gateway, not ${pathname.slice(0, 100)}`);
  const [, user, name, rest = '/'] = m;
  if (!NAME.test(user) || !NAME.test(name)) throw new Invalid(`/${user.slice(0, 60)}/${name.slice(0, 60)} is not /{user}/{app} (both ${DEFAULT_PATTERN})`);
  await deps.auth.authenticate('owner', { authorization: req.headers.authorization }, { user });
  const { upstream } = await readyApp(deps, user, name);
  return { upstream, path: rest + search, name };
}

/** Targets URL would leave as they are: origin form, only characters that need no encoding, no dot segment. */
const PLAIN_TARGET = /^\/(?!\/)[\w\-.~!$&'()*+,;=:@%/]*(\?[\w\-.~!$&'()*+,;=:@%/?]*)?$/;
const DOT_SEGMENT = /\/\.\.?(?:[/?]|$)|%2e/i;

/**
 * The path and query of a request target. A plain one is split as it is (a URL object per request
 * showed in the gateway's profile); any other goes through URL, which encodes and normalises it.
 */
export function splitTarget(target: string): { pathname: string; search: string } {
  if (PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) {
    const q = target.indexOf('?');
    return q < 0 ? { pathname: target, search: '' } : { pathname: target.slice(0, q), search: target.slice(q) };
  }
  const url = new URL(target, 'http://app-gateway');
  return { pathname: url.pathname, search: url.search };
}

/** Reads a whole (small) body, then hands it on; an aborted stream is left to its own error handling. */
function collect(stream: http.IncomingMessage, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
}
