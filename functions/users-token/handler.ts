import { DECOY_HASH, verifyPassword } from '../../shared/auth/password.js';
import { Forbidden } from '../../shared/errors.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

// One answer for unknown user, wrong password and deactivated user (API.md §2).
const REFUSED = 'wrong username or password, or the user is deactivated';

export const handle: Handler<typeof route> = async ({ params, principal }, deps) => {
  if (principal.kind !== 'basic') throw new Forbidden(REFUSED);
  const user = await deps.users.get(params.user ?? '');
  // Verify even when the user is missing, so the answer's timing does not tell.
  const matches = await verifyPassword(principal.password, user?.password_hash ?? DECOY_HASH);
  if (!user || !matches || principal.username !== user.username || user.state !== 'Actived') throw new Forbidden(REFUSED);
  const { token } = await deps.tokens.issue({ sub: user.username, kind: 'user' });
  return token;
};
