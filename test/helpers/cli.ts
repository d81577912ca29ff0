import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { startTestPlatform } from './platform.js';
import { spawnTs } from './process.js';

const MAIN = path.resolve(import.meta.dirname, '../../bin/src/main.ts');

/** A platform with user alice, a scratch folder, and `mlp` run as its own process against them. */
export async function cliSession(t: Test, platformEnv: Record<string, string> = {}) {
  const work = mkdtempSync(path.join(tmpdir(), 'mlp-cli-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));
  const p = await startTestPlatform(platformEnv);
  t.teardown(() => p.close());
  await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } });
  const env = { MLP_CLIENT_CONFIG: path.join(work, 'config.json') };
  const mlp = async (...args: string[]) => {
    const run = spawnTs(t, MAIN, env, args);
    const { code } = await run.exited;
    return { code, out: run.output() };
  };
  return { work, p, env, mlp };
}
