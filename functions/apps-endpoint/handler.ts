import { CHECK_KEEP_SECONDS } from '../../shared/apps/check-epochs.js';
import { readyApp } from '../../shared/apps/endpoint.js';
import { Reply, type Handler } from '../../shared/routes/route.js';
import type route from './route.js';

/**
 * The answer is in the header and the body is empty: Nginx's auth_request keeps its connection
 * to this function alive only for answers without a body. x-accel-expires lets the Nginx app
 * gateway keep the answer for a few seconds (never past the token's expiry), under a key with the
 * user's check epoch (shared/apps/check-epochs.ts), which a logout or a deleted app replaces.
 */
export const handle: Handler<typeof route> = async ({ params, principal }, deps) => {
  const { upstream } = await readyApp(deps, params.user ?? '', params.app ?? '');
  const headers: Record<string, string> = { 'x-mlp-app-upstream': upstream, 'content-type': 'text/plain' };
  const left = principal.kind === 'user' ? Math.floor(principal.claims.exp - deps.now().getTime() / 1000) : 0;
  const keep = Math.min(CHECK_KEEP_SECONDS, left);
  if (keep > 0) headers['x-accel-expires'] = String(keep);
  return new Reply('', 200, headers);
};
