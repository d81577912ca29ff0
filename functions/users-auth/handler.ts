import { Reply, type Handler } from '../../shared/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ headers, query }, deps) => {
  const principal = await deps.auth.verifyBearer({ authorization: headers.authorization, queryToken: query.token });
  return new Reply(principal.username, 200, { 'x-mlp-user': principal.username });
};
