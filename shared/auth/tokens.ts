import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { v4 as uuid } from 'uuid';
import { Forbidden, TokenInvalid } from '../core/errors.js';

export type TokenKind = 'user' | 'job';

export interface Claims {
  sub: string;
  jti: string;
  /** Seconds since the epoch. */
  exp: number;
  kind: TokenKind;
  /** Job tokens only: the job's name and its internal id (names are reused after deletion). */
  job?: string;
  job_id?: string;
}

export interface TokenService {
  issue(subject: { sub: string; kind: TokenKind; job?: string; job_id?: string }, ttlSeconds?: number): Promise<{ token: string; claims: Claims }>;
  /** Throws Forbidden saying why (malformed, bad signature, expired). */
  verify(token: string): Promise<Claims>;
}

const ISSUER = 'mlp';
/** Tokens whose signature was checked, remembered (the longest remembered dropped first) so a busy caller skips the HMAC. */
const VERIFIED_CACHE = 10_000;
/** How long a checked signature is remembered (never past the token's expiry). */
const VERIFIED_FOR_MS = 10_000;

export function createTokenService(opts: { secret: string; ttlSeconds: number; now?: () => Date }): TokenService {
  // Imported once: jose would import raw key bytes again on every sign and verify (a profile of
  // the app gateway showed that import as its largest cost after socket writes).
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(opts.secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const now = opts.now ?? (() => new Date());
  const verified = new Map<string, { claims: Claims; until: number }>();
  return {
    async issue(subject, ttlSeconds = opts.ttlSeconds) {
      const iat = Math.floor(now().getTime() / 1000);
      // Every token has its own id, so logout revokes only the token presented.
      const claims: Claims = { ...subject, jti: uuid(), exp: iat + ttlSeconds };
      const token = await new SignJWT({ kind: claims.kind, ...(claims.job ? { job: claims.job, job_id: claims.job_id } : {}) })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setSubject(claims.sub)
        .setJti(claims.jti)
        .setIssuedAt(iat)
        .setExpirationTime(claims.exp)
        .sign(await key);
      return { token, claims };
    },
    async verify(token) {
      // A signature checked a moment ago is still good: only the expiry is looked at again.
      // Revocation and deactivation are not the token's business (the authenticator reads the
      // user on every request), so this cache cannot delay a logout.
      // Dropped oldest-checked first when full: moving a hit to the end cost a delete and a set of
      // its key on every request, and an entry lives at most VERIFIED_FOR_MS anyway.
      const t = now().getTime();
      const known = verified.get(token);
      if (known) {
        if (known.claims.exp * 1000 <= t) {
          verified.delete(token);
          throw new TokenInvalid('token has expired; get a new one');
        }
        if (known.until > t) return { ...known.claims };
        verified.delete(token);
      }
      const claims = await verifySignature(token);
      if (verified.size >= VERIFIED_CACHE) verified.delete(verified.keys().next().value as string);
      verified.set(token, { claims, until: Math.min(claims.exp * 1000, t + VERIFIED_FOR_MS) });
      return { ...claims };
    },
  };

  async function verifySignature(token: string): Promise<Claims> {
    try {
      const { payload } = await jwtVerify(token, await key, { issuer: ISSUER, algorithms: ['HS256'], currentDate: now() });
      const { sub, jti, exp, kind } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || (kind !== 'user' && kind !== 'job')) {
        throw new TokenInvalid('token is invalid');
      }
      const claims: Claims = { sub, jti, exp, kind };
      if (kind === 'job') {
        if (typeof payload.job !== 'string' || typeof payload.job_id !== 'string') throw new TokenInvalid('token is invalid');
        claims.job = payload.job;
        claims.job_id = payload.job_id;
      }
      return claims;
    } catch (err) {
      if (err instanceof Forbidden) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new TokenInvalid('token has expired; get a new one');
      throw new TokenInvalid('token is invalid');
    }
  }
}
