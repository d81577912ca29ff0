import { bumpCheckEpoch } from '../../shared/apps/check-epochs.js';
import { announceRevocation } from '../../shared/bus/revocations.js';
import { Forbidden } from '../../shared/core/errors.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ principal }, deps) => {
  if (principal.kind !== 'user') throw new Forbidden('only a user token can be logged out');
  const nowSeconds = Math.floor(deps.now().getTime() / 1000);
  await deps.users.revoke(principal.username, { jti: principal.claims.jti, exp: principal.claims.exp }, nowSeconds);
  // The Nginx app gateway keeps checks' answers per epoch: a new one, so none kept for this token is used again.
  await bumpCheckEpoch(deps.config.root, principal.username, 'the token is revoked');
  // Open sockets of this token close at once, not at their next periodic check.
  await announceRevocation(deps, { user: principal.username, jti: principal.claims.jti });
  return '';
};
