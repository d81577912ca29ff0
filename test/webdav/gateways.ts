import { spawn } from 'node:child_process';
import type { Test } from 'tap';
import { startNginx } from '../gateway/nginx.js';
import { startTestPlatform, type TestPlatform } from '../helpers/platform.js';

// What the client tests share: one platform, reached directly (the local runner) and through the
// generated Nginx gateway, with a user and an API token.

export interface Entry {
  name: 'local' | 'nginx';
  url: string;
}

export interface Setup {
  platform: TestPlatform;
  gateways: Entry[];
  user: string;
  token: string;
  /** A second user's token, for the foreign-credentials cases. */
  other: { user: string; token: string };
}

export async function setup(t: Test, env: Record<string, string> = {}): Promise<Setup> {
  const platform = await startTestPlatform({ MLP_TENANT_ROM: String(256 * 1024 * 1024), ...env });
  t.teardown(() => platform.close());
  const gw = await startNginx({ upstream: platform.url.replace(/^http:\/\//, '') });
  t.teardown(() => gw.stop());
  const login = async (user: string) => {
    await platform.call('POST', '/api/v1/users', { body: { username: user, password: 'password1' } });
    const answer = await platform.call('GET', `/api/v1/users/${user}/token`, { basic: [user, 'password1'] });
    if (answer.status !== 200) throw new Error(`login ${user}: ${answer.status} ${answer.text}`);
    return answer.json as string;
  };
  return {
    platform,
    gateways: [
      { name: 'local', url: platform.url },
      { name: 'nginx', url: gw.url },
    ],
    user: 'alice',
    token: await login('alice'),
    other: { user: 'bob', token: await login('bob') },
  };
}

/** The Debian packages of the WebDAV clients, installed when missing (idempotent; scripts/lib/setup.mjs). */
export async function ensureClients(packages: string[]): Promise<void> {
  // A specifier TypeScript does not resolve, so the untyped module does not break strict mode.
  const mod = (await import(new URL('../../scripts/lib/setup.mjs', import.meta.url).href)) as { ensureDebianPackages(names: string[]): void };
  mod.ensureDebianPackages(packages);
}

/** Runs a client to its end; its output for failure messages. */
export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.stdin.end(opts.input ?? '');
  });
}
