import { DAV_CHALLENGE, isDavPath, Unauthenticated } from '../../shared/auth/principal.js';
import { ERROR_HEADER, errorBody } from '../../shared/http/error-header.js';
import { Reply, type Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ headers, query }, deps) => {
  // The gateway's auth_request names the request it checks in X-Original-URI. For /data (docs/api.md#datasets)
  // Basic with the username and an API token counts as the token, and no credentials at all is
  // answered 401 with the challenge, which the gateway passes on (wrong credentials stay 403).
  const dav = isDavPath((headers['x-original-uri'] ?? '').split('?')[0] ?? '');
  try {
    const principal = await deps.auth.verifyBearer({ authorization: headers.authorization, queryToken: query.token, ...(dav ? { basicToken: true } : {}) });
    return new Reply(principal.username, 200, { 'x-mlp-user': principal.username });
  } catch (err) {
    if (!dav || !(err instanceof Unauthenticated)) throw err;
    return new Reply({ msg: err.message }, 401, { 'www-authenticate': DAV_CHALLENGE, [ERROR_HEADER]: errorBody(err.message) });
  }
};
