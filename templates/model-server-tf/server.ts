import http from 'node:http';
import { HEALTH_PATH } from './command.js';
import { infer, oipMetadata, SERVER_NAME, SERVER_VERSION } from './oip.js';
import { BadRequest, type Predictor } from './predictor.js';

/** TF-Serving answers bodies of any size; a shared app gets a cap. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

const STATUS_BODY = JSON.stringify({ model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
const ROUTE = /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+))?(\/metadata|:predict|:classify|:regress)?$/;
const V2_ROUTE = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/;

/**
 * TensorFlow-Serving's REST API (/v1) and the Open Inference Protocol (KServe v2, /v2) for one
 * model, whichever its runtime. Client errors answer 403 {msg} and faults 503 {msg}, never 500;
 * under /v2 the body also carries the protocol's own "error" (the same words).
 */
export function createModelServer(opts: { model: string; predictor: Predictor; onFault?: (err: Error) => void }): http.Server {
  const { model, predictor } = opts;
  const metadataBody = JSON.stringify(predictor.metadata(model));
  const v2MetadataBody = JSON.stringify(oipMetadata(predictor.backend, model));
  const serverBody = JSON.stringify({ name: SERVER_NAME, version: SERVER_VERSION, extensions: [] });
  const readyBody = JSON.stringify({ name: model, ready: true });
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const fault = err as Error;
      opts.onFault?.(fault);
      send(res, 503, errorBody(`the model server failed: ${fault.message}`, isV2(req)));
    });
  });
  // Longer than the proxies in front keep idle connections, so they, not we, close them.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 70_000;

  const routes = `GET /v1/models/${model}[/metadata], POST /v1/models/${model}:predict, GET /v2/models/${model}[/ready] and POST /v2/models/${model}/infer`;

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const pathname = url.split('?', 1)[0] ?? '/';
    if (pathname === HEALTH_PATH) {
      if (method !== 'GET' && method !== 'HEAD') return refuse(req, res, `${method} is not allowed on ${HEALTH_PATH}; use GET`);
      return send(res, 200, JSON.stringify({ status: 'ok', model }));
    }
    if (pathname === '/v2' || pathname.startsWith('/v2/')) return handleV2(req, res, method, pathname);
    const m = ROUTE.exec(pathname);
    if (!m) return refuse(req, res, `no route for ${method} ${pathname}; the model server has ${routes}`);
    const [, rawName = '', version, verb = ''] = m;
    const name = decodeSegment(rawName);
    if (name !== model) return refuse(req, res, `model ${name} not found; this server serves ${model}`);
    if (version !== undefined && version !== '1') return refuse(req, res, `version ${version} of model ${model} not found; it has version 1`);
    if (verb === ':classify' || verb === ':regress') return refuse(req, res, `${verb.slice(1)} is not supported; use :predict`);
    if (verb === ':predict') {
      if (method !== 'POST') return refuse(req, res, `${method} is not allowed on :predict; use POST`);
      return answerJson(req, res, false, (body) => predictor.predict(body));
    }
    if (method !== 'GET' && method !== 'HEAD') return refuse(req, res, `${method} is not allowed on ${pathname}; use GET`);
    return send(res, 200, verb === '/metadata' ? metadataBody : STATUS_BODY);
  }

  async function handleV2(req: http.IncomingMessage, res: http.ServerResponse, method: string, pathname: string): Promise<void> {
    const get = (body: string) => {
      if (method !== 'GET' && method !== 'HEAD') return refuse(req, res, `${method} is not allowed on ${pathname}; use GET`, true);
      return send(res, 200, body);
    };
    if (pathname === '/v2') return get(serverBody);
    if (pathname === '/v2/health/live') return get(JSON.stringify({ live: true }));
    if (pathname === '/v2/health/ready') return get(JSON.stringify({ ready: true }));
    const m = V2_ROUTE.exec(pathname);
    if (!m) return refuse(req, res, `no route for ${method} ${pathname}; the model server has ${routes}`, true);
    const [, rawName = '', version, verb = ''] = m;
    const name = decodeSegment(rawName);
    if (name !== model) return refuse(req, res, `model ${name} not found; this server serves ${model}`, true);
    if (version !== undefined && decodeSegment(version) !== '1') return refuse(req, res, `version ${decodeSegment(version)} of model ${model} not found; it has version 1`, true);
    if (verb === '/infer') {
      if (method !== 'POST') return refuse(req, res, `${method} is not allowed on ${pathname}; use POST`, true);
      return answerJson(req, res, true, (body) => infer(predictor.backend, model, body));
    }
    return get(verb === '/ready' ? readyBody : v2MetadataBody);
  }

  return server;
}

/** Reads a JSON body and answers what `run` makes of it: 200, or 403 for the client's mistakes. */
async function answerJson(req: http.IncomingMessage, res: http.ServerResponse, v2: boolean, run: (body: unknown) => Promise<unknown>): Promise<void> {
  const text = await readBody(req, res, v2);
  if (text === undefined) return;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return send(res, 403, errorBody('the body is not JSON', v2));
  }
  let answer: unknown;
  try {
    answer = await run(body);
  } catch (err) {
    if (err instanceof BadRequest) return send(res, 403, errorBody(err.message, v2));
    throw err;
  }
  return send(res, 200, JSON.stringify(answer));
}

const isV2 = (req: http.IncomingMessage) => /^\/v2(\/|\?|$)/.test(req.url ?? '');

/** {msg}, as every error of the platform; the Open Inference Protocol's clients read "error". */
function errorBody(msg: string, v2: boolean): string {
  return JSON.stringify(v2 ? { msg, error: msg } : { msg });
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
function refuse(req: http.IncomingMessage, res: http.ServerResponse, msg: string, v2 = false): void {
  req.resume();
  send(res, 403, errorBody(msg, v2));
}

/**
 * The request body as text, or undefined once a 403 was sent because it is too large. The
 * rest of an oversized body is read and dropped (up to a bound) before the 403 is sent, so the
 * client has finished sending and reads the 403 rather than a reset while it is still writing.
 */
function readBody(req: http.IncomingMessage, res: http.ServerResponse, v2: boolean): Promise<string | undefined> {
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
      send(res, 403, errorBody(tooLarge, v2));
      resolve(undefined);
    });
    // A refused body that breaks off needs no answer any more.
    req.on('error', (err) => (refused ? resolve(undefined) : reject(err)));
  });
}
