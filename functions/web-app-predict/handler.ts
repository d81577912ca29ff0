import { readyApp } from '../../shared/apps/endpoint.js';
import { requestUpstream } from '../../shared/apps/upstream.js';
import { Invalid, Unavailable } from '../../shared/core/errors.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

const TIMEOUT_MS = 30_000;

/**
 * The page cannot call the app gateway (MLP_APP_PORT): it is another origin and answers no CORS
 * preflight, and opening it to other origins would let any page that holds a token call apps. So
 * the page predicts through this route on its own origin, which keeps the app gateway's checks —
 * the owner's token (auth: owner) and a ready app — and, like the gateway, does not pass the token on.
 */
export const handle: Handler<typeof route> = async ({ params, body, requestId }, deps) => {
  const name = params.app ?? '';
  if (body.instances === undefined && body.inputs === undefined) throw new Invalid('give "instances" (rows) or "inputs" (columns), as TensorFlow Serving takes them');
  const { app, upstream } = await readyApp(deps, params.user ?? '', name);
  let res: { status: number; text: string };
  try {
    // The server may be on a Unix socket (sandboxed locally), which fetch() cannot reach.
    res = await requestUpstream(upstream, {
      method: 'POST',
      path: `/v1/models/${encodeURIComponent(app.model_name)}:predict`,
      headers: { 'content-type': 'application/json', 'x-request-id': requestId },
      body: JSON.stringify(body),
      timeoutMs: TIMEOUT_MS,
    });
  } catch (err) {
    throw new Unavailable(`app ${name} is not answering (${(err as Error).message}); try again in a moment`);
  }
  const text = res.text;
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    throw new Unavailable(`app ${name} answered ${res.status} with a body that is not JSON`);
  }
  if (res.status >= 200 && res.status < 300) return answer;
  const msg = typeof (answer as { msg?: unknown })?.msg === 'string' ? (answer as { msg: string }).msg : `app ${name} answered ${res.status}`;
  // The model server's own refusals (a malformed instance) are the caller's; anything else a fault.
  if (res.status === 403 || res.status === 400) throw new Invalid(msg);
  throw new Unavailable(msg);
};
