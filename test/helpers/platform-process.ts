import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Test } from 'tap';
import { call, type Answer, type CallOptions } from './platform.js';
import { spawnTs, type Spawned } from './process.js';

const MAIN = fileURLToPath(new URL('../../scripts/local/main.ts', import.meta.url));

/** The platform as its own process (`npm start`'s entry), on fixed ports so a restart keeps its address. */
export interface PlatformProcess {
  url: string;
  proc: Spawned;
  call(method: string, urlPath: string, opts?: CallOptions): Promise<Answer>;
  /** Signals it and waits for it to exit. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

export async function startPlatformProcess(t: Test, env: { MLP_ROOT: string; MLP_PORT: string; MLP_APP_PORT: string } & Record<string, string>): Promise<PlatformProcess> {
  const proc = spawnTs(t, MAIN, env);
  await proc.waitFor(/MLP is running/, 120_000);
  const url = `http://127.0.0.1:${env.MLP_PORT}`;
  return {
    url,
    proc,
    call: (method, urlPath, opts) => call(url, method, urlPath, opts),
    async kill(signal) {
      if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(signal);
      await proc.exited;
    },
  };
}

/** The service token the platform generated and keeps under MLP_ROOT (docs/configuration.md), for the internal routes. */
export function serviceToken(root: string): string {
  return readFileSync(path.join(root, 'secrets', 'service-token'), 'utf8').trim();
}
