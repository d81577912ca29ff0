import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkEpochsDir } from '../../shared/apps/check-epochs.js';
import { hashPassword } from '../../shared/auth/password.js';
import type { Deps } from '../../shared/wiring/deps.js';
import { bearer } from './deps.js';

/** Registers a user straight in the store and returns a Bearer header of theirs. */
export async function userWithToken(deps: Deps, name: string): Promise<{ authorization: string }> {
  await deps.users.create(name, await hashPassword('password1'));
  return bearer((await deps.tokens.issue({ sub: name, kind: 'user' })).token);
}

/** A user's check epoch as the Nginx app gateway reads it (shared/apps/check-epochs.ts), or undefined before the first. */
export function checkEpochOf(root: string, user: string): string | undefined {
  const file = path.join(checkEpochsDir(root), user);
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}
