import http from 'node:http';
import { HEALTH_PATH } from './command.js';
import { BadRequest, type Predictor } from './predictor.js';

/** TF-Serving answers bodies of any size; a shared app gets a cap. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

const STATUS_BODY = JSON.stringify({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
const ROUTE = /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+))?(\/metadata|:predict|:classify|:regress)?$/;

/**
 * TensorFlow-Serving's REST API for one model. Client errors answer 403 {msg} and faults 503
 * {msg} (API.md §1), never 500.
 */
export function createModelServer(opts: { model: string; predictor: Predictor; onFault?: (err: Error) => void }): http.Server {
  const metadataBody = JSON.stringify(opts.predictor.metadata(opts.model));
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const fault = err as Error;
      opts.onFault?.(fault);
      send(res, 503, JSON.stringify({ msg: `the model server failed: ${fault.message}` }));
    });
  });
  // Longer than the proxies in front keep idle connections, so they, not we, close them.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const pathname = url.split('?', 1)[0] ?? '/';
    if (pathname === HEALTH_PATH) {
      if (method !== 'GET' && method !== 'HEAD') return refuse(req, res, `${method} is not allowed on ${HEALTH_PATH}; use GET`);
      return send(res, 200, JSON.stringify({ status: 'ok', model: opts.model }));
    }
    const m = ROUTE.exec(pathname);
    if (!m) return refuse(req, res, `no route for ${method} ${pathname}; the model server has GET /v1/models/${opts.model}[/metadata] and POST /v1/models/${opts.model}:predict`);
    const [, rawName = '', version, verb = ''] = m;
    const name = decodeSegment(rawName);
    if (name !== opts.model) return refuse(req, res, `model ${name} not found; this server serves ${opts.model}`);
    if (version !== undefined && version !== '1') return refuse(req, res, `version ${version} of model ${opts.model} not found; it has version 1`);
    if (verb === ':classify' || verb === ':regress') return refuse(req, res, `${verb.slice(1)} is not supported; use :predict`);
    if (verb === ':predict') {
      if (method !== 'POST') return refuse(req, res, `${method} is not allowed on :predict; use POST`);
      const text = await readBody(req, res);
      if (text === undefined) return;
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return send(res, 403, JSON.stringify({ msg: 'the body is not JSON' }));
      }
      let answer: unknown;
      try {
        answer = opts.predictor.predict(body);
      } catch (err) {
        if (err instanceof BadRequest) return send(res, 403, JSON.stringify({ msg: err.message }));
        throw err;
      }
      return send(res, 200, JSON.stringify(answer));
    }
    if (method !== 'GET' && method !== 'HEAD') return refuse(req, res, `${method} is not allowed on ${pathname}; use GET`);
    return send(res, 200, verb === '/metadata' ? metadataBody : STATUS_BODY);
  }

  return server;
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s; // not valid percent-encoding: compared as written, so it matches no model
  }
}

function send(res: http.ServerResponse, status: number, body: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A refusal before the body was read: the body is drained so the connection stays usable. */
function refuse(req: http.IncomingMessage, res: http.ServerResponse, msg: string): void {
  req.resume();
  send(res, 403, JSON.stringify({ msg }));
}

/**
 * The request body as text, or undefined once a 403 was sent because it is too large. The
 * rest of an oversized body is read and dropped (up to a bound) before the 403 is sent, so the
 * client has finished sending and reads the 403 rather than a reset while it is still writing.
 */
function readBody(req: http.IncomingMessage, res: http.ServerResponse): Promise<string | undefined> {
  const tooLarge = `the body is larger than ${MAX_BODY_BYTES} bytes`;
  const declared = Number(req.headers['content-length'] ?? NaN);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = declared > MAX_BODY_BYTES;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!refused && size > MAX_BODY_BYTES) {
        refused = true;
        chunks.length = 0;
      }
      if (refused) {
        // Past this much a client is not making a mistake: cut it off.
        if (size > 8 * MAX_BODY_BYTES) req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!refused) return resolve(Buffer.concat(chunks).toString('utf8'));
      res.setHeader('connection', 'close');
      send(res, 403, JSON.stringify({ msg: tooLarge }));
      resolve(undefined);
    });
    // A refused body that breaks off needs no answer any more.
    req.on('error', (err) => (refused ? resolve(undefined) : reject(err)));
  });
}
