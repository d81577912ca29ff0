import { Forbidden } from '../../shared/errors.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ principal }, deps) => {
  if (principal.kind !== 'user') throw new Forbidden('only a user token can be logged out');
  const nowSeconds = Math.floor(deps.now().getTime() / 1000);
  await deps.users.revoke(principal.username, { jti: principal.claims.jti, exp: principal.claims.exp }, nowSeconds);
  return '';
};
