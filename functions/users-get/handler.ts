import { NotFound } from '../../shared/errors.js';
import { userView } from '../../shared/repos/users.js';
import type { Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const user = await deps.users.get(params.user ?? '');
  if (!user) throw new NotFound(`user ${params.user ?? ''} not found`);
  return userView(user);
};
