import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface ClientConfig {
  url: string;
  /**
   * The app gateway's base URL when given at login (--app-url): it then replaces the one in each
   * app's endpoint. Unset: apps are called where the platform says they are (App.endpoint).
   * (Earlier clients kept a guessed `appUrl` here, the gateway's host on port 30002; it is ignored.)
   */
  appGateway?: string;
  user: string;
  token: string;
}

/**
 * The app gateway beside a gateway URL: the same host on port 30002. Only for a platform whose
 * apps carry no endpoint (older than the endpoint field).
 */
export function guessedAppUrl(url: string): string {
  const u = new URL(url);
  u.port = '30002';
  return u.origin;
}

/** ~/.config/mlp/config.json, or MLP_CLIENT_CONFIG (tests and several accounts). */
export function configFile(env = process.env): string {
  if (env.MLP_CLIENT_CONFIG) return env.MLP_CLIENT_CONFIG;
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'mlp', 'config.json');
}

export async function loadClientConfig(): Promise<ClientConfig> {
  try {
    return JSON.parse(await readFile(configFile(), 'utf8')) as ClientConfig;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('not logged in; run `mlp login --url URL --user NAME` first');
    throw err;
  }
}

export async function saveClientConfig(config: ClientConfig): Promise<void> {
  const file = configFile();
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // The token is a credential: readable by the owner only.
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
