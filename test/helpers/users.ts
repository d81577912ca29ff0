import { hashPassword } from '../../shared/auth/password.js';
import type { Deps } from '../../shared/wiring/deps.js';
import { bearer } from './deps.js';

/** Registers a user straight in the store and returns a Bearer header of theirs. */
export async function userWithToken(deps: Deps, name: string): Promise<{ authorization: string }> {
  await deps.users.create(name, await hashPassword('password1'));
  return bearer((await deps.tokens.issue({ sub: name, kind: 'user' })).token);
}
