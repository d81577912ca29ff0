import { readyApp } from '../../shared/apps/endpoint.js';
import { Reply, type Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/**
 * The answer is in the header and the body is empty: Nginx's auth_request keeps its connection
 * to this function alive only for answers without a body.
 */
export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const { upstream } = await readyApp(deps, params.user ?? '', params.app ?? '');
  return new Reply('', 200, { 'x-mlp-app-upstream': upstream, 'content-type': 'text/plain' });
};
