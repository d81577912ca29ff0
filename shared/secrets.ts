import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './config.js';

export interface Secrets {
  /** Signs and verifies JWTs. */
  secret: string;
  /** Lets the platform's own functions call internal routes. */
  serviceToken: string;
}

/**
 * Secrets from configuration, or generated once and kept under MLP_ROOT so that
 * tokens survive a restart of the local platform (API.md §12).
 */
export async function resolveSecrets(config: Config): Promise<Secrets> {
  return {
    secret: config.secret ?? (await keptSecret(config.root, 'secret')),
    serviceToken: config.serviceToken ?? (await keptSecret(config.root, 'service-token')),
  };
}

async function keptSecret(root: string, name: string): Promise<string> {
  const dir = path.join(root, 'secrets');
  const file = path.join(dir, name);
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (kept.length >= 32) return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const fresh = randomBytes(32).toString('base64url');
  // 'wx' so two processes starting together cannot overwrite each other's secret.
  try {
    await writeFile(file, fresh + '\n', { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readFile(file, 'utf8')).trim();
  }
}
