import { hashPassword } from '../../shared/auth/password.js';
import { Conflict } from '../../shared/core/errors.js';
import { userView } from '../../shared/records/users.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ body }, deps) => {
  if (await deps.users.get(body.username)) throw new Conflict(`user ${body.username} already exists`);
  const created = await deps.users.create(body.username, await hashPassword(body.password));
  return userView(created);
};
