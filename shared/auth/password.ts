import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Unavailable } from '../core/errors.js';

// scrypt: slow and salted, from Node itself (docs/api.md#users asks for scrypt or argon2).
const PARAMS = { N: 16384, r: 8, p: 1, keylen: 32 };

/**
 * scrypt runs on libuv's thread pool (4 threads by default), the same threads that do file I/O:
 * unbounded, a burst of password checks holds up every user's WebDAV read. At most this many run
 * at once, the others wait their turn, and past a bounded queue a check is refused with 503: the
 * platform is busy, not the caller wrong (docs/api.md#conventions: a fault, the request may succeed later).
 */
export const MAX_CONCURRENT_HASHES = 2;
export const MAX_WAITING_HASHES = 64;

let running = 0;
const waiting: (() => void)[] = [];

async function bounded<T>(work: () => Promise<T>): Promise<T> {
  if (running >= MAX_CONCURRENT_HASHES) {
    if (waiting.length >= MAX_WAITING_HASHES) throw new Unavailable('too many password checks are waiting; try again in a few seconds');
    await new Promise<void>((resolve) => waiting.push(resolve));
  } else {
    running++;
  }
  try {
    return await work();
  } finally {
    // The slot passes straight to the next waiter (running stays the same), or is freed.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function derive(password: string, salt: Buffer, p: typeof PARAMS): Promise<Buffer> {
  const options: ScryptOptions = { N: p.N, r: p.r, p: p.p, maxmem: 64 * 1024 * 1024 };
  return bounded(() => new Promise((resolve, reject) => scrypt(password, salt, p.keylen, options, (err, key) => (err ? reject(err) : resolve(key)))));
}

/** `scrypt$N$r$p$salt$hash`, parameters kept so they can be raised later without breaking old hashes. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, PARAMS);
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await derive(password, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p), keylen: expected.length });
  return timingSafeEqual(key, expected);
}

/**
 * A hash to verify against when the user does not exist: the same parameters, salt and key
 * lengths as a real one, so a missing user costs the same scrypt as a wrong password and the
 * answer's timing does not tell them apart.
 */
export const DECOY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** How many hashes run and wait now (tests, diagnostics). */
export const hashing = (): { running: number; waiting: number } => ({ running, waiting: waiting.length });
