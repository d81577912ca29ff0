import { timingSafeEqual } from 'node:crypto';
import { Forbidden, TokenInvalid } from '../core/errors.js';
import type { UsersRepo } from '../records/users.js';
import type { AuthMode } from '../routes/route.js';
import type { Claims, TokenService } from './tokens.js';

/** Who is calling, as established by the adapter before the handler runs. */
export type Principal =
  | { kind: 'anonymous' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'user'; username: string; claims: Claims }
  | { kind: 'job'; username: string; job: string; jobId: string; claims: Claims }
  | { kind: 'service' };

export interface Credentials {
  authorization?: string;
  /** `?token=`, for browsers opening WebSockets; honoured only where a route allows it. */
  queryToken?: string;
  /**
   * On /data only (docs/api.md#datasets, standard WebDAV clients): `Basic base64(username:token)` is accepted
   * as the Bearer token is, the username being the token's user.
   */
  basicToken?: boolean;
}

/**
 * No credentials at all. A 403 like every client error, except on /data, where the adapter and the
 * gateway's check answer 401 with {@link DAV_CHALLENGE} (standard WebDAV clients send credentials
 * only after a challenge; docs/api.md#datasets). Wrong or foreign credentials stay Forbidden (403) there too.
 */
export class Unauthenticated extends Forbidden {
  override name = 'Unauthenticated';
  static override readonly CODE: string = 'UNAUTHENTICATED';
}

/** The challenge answered with the 401 on /data. */
export const DAV_CHALLENGE = 'Basic realm="MLP"';

/** Whether a request path (or a route's path pattern) is under /data, where the 401 challenge applies. */
export function isDavPath(path: string): boolean {
  return path === '/data' || path.startsWith('/data/');
}

export interface Authenticator {
  authenticate(mode: AuthMode, creds: Credentials, params: Record<string, string>): Promise<Principal>;
  /** A user or job token, from the header or the query, checked against the user's state and revocations. */
  verifyBearer(creds: Credentials): Promise<Extract<Principal, { kind: 'user' | 'job' }>>;
  /**
   * An open stream's principal checked again (sockets, follow streams): throws Forbidden saying
   * why once its token has expired or was revoked, or its user was deactivated.
   */
  recheck(principal: Principal): Promise<void>;
}

export function createAuthenticator(deps: { tokens: TokenService; users: UsersRepo; serviceToken: string; now: () => Date }): Authenticator {
  const serviceKey = Buffer.from(deps.serviceToken);

  /** The token, and on /data the username that came with it in Basic credentials. */
  const bearerOf = (creds: Credentials): { token: string; basicUser?: string } => {
    const header = creds.authorization;
    if (header) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (m?.[1]) return { token: m[1] };
      if (creds.basicToken && /^Basic\s/i.test(header)) {
        const given = basic(header);
        if (given.kind !== 'basic' || !given.username || !given.password) throw new Forbidden('Basic credentials must be base64(username:token), with an API token as the password');
        return { token: given.password, basicUser: given.username };
      }
      throw new Forbidden(
        creds.basicToken ? 'Authorization header must be "Bearer <token>" or Basic with your username and an API token as the password' : 'Authorization header must be "Bearer <token>"',
      );
    }
    if (creds.queryToken) return { token: creds.queryToken };
    throw new Unauthenticated(
      creds.basicToken ? 'missing token: send "Authorization: Bearer <token>", or Basic with your username and an API token as the password' : 'missing token: send "Authorization: Bearer <token>"',
    );
  };

  const verifyBearer: Authenticator['verifyBearer'] = async (creds) => {
    const { token, basicUser } = bearerOf(creds);
    if (isServiceToken(token)) throw new Forbidden('the service token is not a user token');
    const claims = await deps.tokens.verify(token);
    if (basicUser !== undefined && basicUser !== claims.sub) throw new Forbidden("the username in the Basic credentials is not the token's user");
    await checkUser(claims);
    if (claims.kind === 'job') return { kind: 'job', username: claims.sub, job: claims.job ?? '', jobId: claims.job_id ?? '', claims };
    return { kind: 'user', username: claims.sub, claims };
  };

  // Revocation and deactivation are read from the user every time, never remembered.
  const checkUser = async (claims: Claims): Promise<void> => {
    const user = await deps.users.get(claims.sub);
    if (user?.state !== 'Actived') throw new TokenInvalid('token is no longer valid: the user is deactivated');
    if (user.revoked.some((r) => r.jti === claims.jti)) throw new TokenInvalid('token has been revoked (logged out)');
  };

  const isServiceToken = (token: string): boolean => {
    // A token of another length cannot be it (a user token is far longer): no copy on every request.
    if (token.length !== deps.serviceToken.length) return false;
    const given = Buffer.from(token);
    return given.length === serviceKey.length && timingSafeEqual(given, serviceKey);
  };

  return {
    verifyBearer,
    async recheck(principal) {
      if (principal.kind !== 'user' && principal.kind !== 'job') return;
      if (principal.claims.exp * 1000 <= deps.now().getTime()) throw new TokenInvalid('token has expired; get a new one');
      await checkUser(principal.claims);
    },
    async authenticate(mode, creds, params) {
      switch (mode) {
        case 'none':
          return { kind: 'anonymous' };
        case 'basic':
          return basic(creds.authorization);
        case 'service': {
          const m = /^Bearer\s+(\S+)\s*$/i.exec(creds.authorization ?? '');
          if (!m?.[1] || !isServiceToken(m[1])) throw new Forbidden('this route is internal to the platform; it needs the service token');
          return { kind: 'service' };
        }
        case 'owner-or-job': {
          // A job token is good for its own job only; the handler also checks it is the current job of that name.
          const principal = await verifyBearer(creds);
          if (principal.username !== params.user) throw new Forbidden(`this token belongs to ${principal.username}; it gives no access to user ${params.user ?? ''}`);
          if (principal.kind === 'job' && principal.job !== params.job) throw new Forbidden(`this job token belongs to job ${principal.job}, not ${params.job ?? ''}`);
          return principal;
        }
        case 'user':
        case 'owner': {
          // The adapter passes a query token only for WebSocket upgrades (browsers cannot set headers).
          const principal = await verifyBearer(creds);
          if (principal.kind !== 'user') throw new Forbidden('a job token cannot be used here');
          if (mode === 'owner' && principal.username !== params.user) {
            throw new Forbidden(`this token belongs to ${principal.username}; it gives no access to user ${params.user ?? ''}`);
          }
          return principal;
        }
      }
    },
  };
}

function basic(header: string | undefined): Principal {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m?.[1]) throw new Forbidden('send "Authorization: Basic base64(user:password)" to get a token');
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw new Forbidden('Basic credentials must be base64(user:password)');
  return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
