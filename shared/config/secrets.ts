import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './load.js';
import { ConfigError } from '../core/errors.js';
import type { RouteDef } from '../routes/route.js';

export interface Secrets {
  /** Signs and verifies JWTs. */
  secret: string;
  /** Lets the platform's own functions call internal routes. */
  serviceToken: string;
}

/** The platform's secrets, by the name a function declares (RouteDef.secrets) and the deployment uses. */
export type SecretName = 'signing-key' | 'service-token';

/**
 * Where each secret comes from in a cluster: the environment variable (Knative: a secretKeyRef
 * of the Kubernetes Secret `secret`) or the file OpenFaaS mounts for the secret `secret`
 * (faas-cli secret create makes a Kubernetes Secret of that name, whose key is that name too).
 */
export const SECRET_SOURCES: Record<SecretName, { env: 'MLP_SECRET' | 'MLP_SERVICE_TOKEN'; secret: string; what: string }> = {
  'signing-key': { env: 'MLP_SECRET', secret: 'mlp-secret', what: 'the token signing key' },
  'service-token': { env: 'MLP_SERVICE_TOKEN', secret: 'mlp-service-token', what: 'the service token' },
};

/** Where OpenFaaS mounts a function's secrets, one file per secret. */
export const OPENFAAS_SECRETS_DIR = '/var/openfaas/secrets';

/**
 * The secrets a function needs: the signing key where its auth mode verifies a user or job
 * token, the service token where it serves an internal route (auth service; a scheduled
 * function's trigger also runs with it), and whatever its route declares besides (a handler
 * that issues tokens or verifies them itself).
 */
export function secretsOf(route: Pick<RouteDef, 'auth' | 'secrets' | 'schedule'>): SecretName[] {
  const needs = new Set<SecretName>(route.secrets ?? []);
  if (route.auth === 'owner' || route.auth === 'user' || route.auth === 'owner-or-job') needs.add('signing-key');
  if (route.auth === 'service' || route.schedule) needs.add('service-token');
  return (Object.keys(SECRET_SOURCES) as SecretName[]).filter((name) => needs.has(name));
}

/**
 * The secrets of one function process (the template, MLP_FUNCTION set): only those its route
 * needs, each from its environment variable or, when that is absent, from the file OpenFaaS
 * mounts — never from MLP_ROOT, which in a cluster is the volume every function shares. A
 * needed secret that is missing stops start-up; one it does not need is not read at all.
 */
export async function loadFunctionSecrets(
  route: Pick<RouteDef, 'name' | 'auth' | 'secrets' | 'schedule'>,
  env: Record<string, string | undefined>,
  dir = OPENFAAS_SECRETS_DIR,
): Promise<Partial<Record<SecretName, string>>> {
  const given: Partial<Record<SecretName, string>> = {};
  const problems: string[] = [];
  for (const name of secretsOf(route)) {
    const source = SECRET_SOURCES[name];
    const file = path.join(dir, source.secret);
    const value = env[source.env] || (await readSecretFile(file));
    if (value === undefined) {
      problems.push(`function ${route.name} needs ${source.what}: set ${source.env} (Knative: a secretKeyRef of the Secret ${source.secret}) or mount the OpenFaaS secret ${source.secret} (${file})`);
    } else if (value.length < 32) {
      problems.push(`${source.what} (${env[source.env] ? source.env : file}) must be at least 32 characters`);
    } else {
      given[name] = value;
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return given;
}

/**
 * The configuration a function process runs with: its own secrets, and for each it was not
 * given a random value that is never stored nor shared, so createDeps never falls back to
 * MLP_ROOT. Without the service token the authenticator matches no service token; without
 * the signing key no token verifies here and none signed here verifies anywhere else.
 */
export function withFunctionSecrets(config: Config, given: Partial<Record<SecretName, string>>): Config {
  const absent = () => randomBytes(32).toString('base64url');
  return { ...config, secret: given['signing-key'] ?? absent(), serviceToken: given['service-token'] ?? absent() };
}

async function readSecretFile(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The one-process platform (npm start): secrets from configuration, or generated once and
 * kept under MLP_ROOT/secrets (0700, files 0600) so that tokens survive a restart (docs/configuration.md).
 * Function processes never come here for a secret they lack (withFunctionSecrets).
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
    await writeFile(file, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readFile(file, 'utf8')).trim();
  }
}
