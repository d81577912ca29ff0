import { DECOY_HASH, verifyPassword } from '../../shared/auth/password.js';
import { Forbidden } from '../../shared/core/errors.js';
import type { Handler } from '../../shared/routes/route.js';
import { clientAddress, tokenLimits } from './attempts.js';
import type route from './route.js';

// One answer for unknown user, wrong password and deactivated user (docs/api.md#users).
const REFUSED = 'wrong username or password, or the user is deactivated';

export const handle: Handler<typeof route> = async ({ params, headers, principal }, deps) => {
  if (principal.kind !== 'basic') throw new Forbidden(REFUSED);
  const name = params.user ?? '';
  const address = clientAddress(headers);
  // Checked before anything is read or hashed, by the name asked for (existing or not), and a
  // try refused by one bound does not use up the other.
  const { users, addresses } = tokenLimits(deps);
  if (!users.allows(name)) throw new Forbidden(`too many token requests for user ${name}; try again in ${users.retryAfter(name)} s`);
  if (!addresses.allows(address)) throw new Forbidden(`too many token requests from this address; try again in ${addresses.retryAfter(address)} s`);
  users.take(name);
  addresses.take(address);
  const user = await deps.users.get(name);
  // Verify even when the user is missing (against a decoy of the same cost), so timing does not tell.
  const matches = await verifyPassword(principal.password, user?.password_hash ?? DECOY_HASH);
  if (!user || !matches || principal.username !== user.username || user.state !== 'Actived') throw new Forbidden(REFUSED);
  const { token } = await deps.tokens.issue({ sub: user.username, kind: 'user' });
  return token;
};
