import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/load.js';
import type { Overrides } from '../../shared/wiring/deps.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { endRecorded } from '../../shared/orchestrator/local-record.js';
import { startPlatform, type Platform } from '../../scripts/local/platform.js';

/** The store backends a test can run on: embedded always, MongoDB when npm test started one. */
export function storeBackends(): { name: string; env: Record<string, string> }[] {
  const backends = [{ name: 'embedded', env: {} as Record<string, string> }];
  const mongo = process.env.MLP_TEST_MONGO_URL;
  if (mongo) backends.push({ name: 'mongodb', env: { MLP_MONGO_URL: withDatabase(mongo, databaseName()) } });
  return backends;
}

/** A backend's env with a database of its own (MongoDB), for a platform that must not share a tenant. */
export function ownDatabase(env: Record<string, string>): Record<string, string> {
  return env.MLP_MONGO_URL ? { ...env, MLP_MONGO_URL: withDatabase(env.MLP_MONGO_URL, databaseName()) } : env;
}

let databases = 0;
const databaseName = () => `t${process.pid}x${Date.now().toString(36)}x${(databases += 1)}`;

/** A fresh database per test file, so parallel files do not see each other's users. */
export function withDatabase(url: string, db: string): string {
  const [base, query] = url.split('?') as [string, string | undefined];
  const host = base.replace(/^(mongodb(?:\+srv)?:\/\/[^/]+).*$/, '$1');
  return `${host}/${db}${query ? `?${query}` : ''}`;
}

/** What the scenario helpers need of a platform under test: HTTP, its data folder, the service token. */
export interface Reachable {
  root: string;
  serviceToken: string;
  call(method: string, urlPath: string, opts?: CallOptions): Promise<Answer>;
}

export interface TestPlatform extends Platform, Reachable {
  logs: string[];
  call(method: string, urlPath: string, opts?: CallOptions): Promise<Answer>;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as-is (not JSON-encoded) when a string is wanted verbatim. */
  rawBody?: string;
  token?: string;
  basic?: [string, string];
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  text: string;
  json: unknown;
  headers: Headers;
}

/** Starts the whole platform in-process on free ports with a temporary MLP_ROOT. */
export async function startTestPlatform(env: Record<string, string> = {}, overrides: Overrides = {}): Promise<TestPlatform> {
  // A given MLP_ROOT belongs to the caller (a restart of the same platform); a fresh one to this platform.
  const owned = !env.MLP_ROOT;
  const root = env.MLP_ROOT ?? mkdtempSync(path.join(tmpdir(), 'mlp-test-'));
  const config = loadConfig({ MLP_PORT: '0', MLP_APP_PORT: '0', ...env, MLP_ROOT: root });
  const sink = memorySink();
  const log = createLogger({ component: 'test', sinks: [sink], level: 'debug' });
  const platform = await startPlatform(config, log, overrides);
  return {
    ...platform,
    root,
    serviceToken: platform.deps.serviceToken,
    logs: sink.lines,
    call: (method, urlPath, opts) => call(platform.url, method, urlPath, opts),
    async close() {
      await platform.close();
      if (owned) {
        endRecorded(path.join(root, 'orchestrator')); // jobs outlive the platform; not this one's
        rmSync(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
      }
    },
  };
}

export async function call(base: string, method: string, urlPath: string, opts: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  if (opts.basic) headers.authorization = `Basic ${Buffer.from(`${opts.basic[0]}:${opts.basic[1]}`).toString('base64')}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(base + urlPath, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}
