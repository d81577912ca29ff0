import { bumpCheckEpoch } from '../../shared/apps/check-epochs.js';
import { announceRevocation } from '../../shared/bus/revocations.js';
import { NotFound } from '../../shared/core/errors.js';
import { userView } from '../../shared/records/users.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const user = await deps.users.deactivate(params.user ?? '');
  if (!user) throw new NotFound(`user ${params.user ?? ''} not found`);
  // No answer the Nginx app gateway kept for the user's tokens is used again.
  await bumpCheckEpoch(deps.config.root, user.username, `user ${user.username} is deactivated`);
  // Every open socket of the user closes at once, not at its next periodic check.
  await announceRevocation(deps, { user: user.username });
  return userView(user);
};
