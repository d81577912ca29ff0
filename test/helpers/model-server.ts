import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { HEALTH_PATH, modelServerCommand } from '../../templates/model-server-tf/command.js';
import { freePort } from './process.js';

// The model server of runtime tf run as its own process, started exactly as the apps manager starts it.

export interface Answer {
  status: number;
  json: unknown;
  text: string;
}

export function tempDir(t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-serving-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts the server on a free port; resolves once /health answers, rejects if it exits first. */
export async function startServer(
  t: Test,
  modelDir: string,
  model: string,
  opts: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ base: string; call: (method: string, urlPath: string, body?: string | Buffer) => Promise<Answer>; output: () => string }> {
  const port = await freePort();
  const [program = '', ...args] = modelServerCommand({ modelDir, port, model });
  const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(opts.env ? { env: { ...process.env, ...opts.env } } : {}), ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  const base = `http://127.0.0.1:${port}`;
  const request = async (method: string, urlPath: string, body?: string | Buffer): Promise<Answer> => {
    const res = await fetch(base + urlPath, { method, ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}) });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  };
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`the model server exited (${child.exitCode}):\n${output}`);
    const up = await request('GET', HEALTH_PATH).then(
      (a) => a.status === 200,
      () => false, // not listening yet: connection refused
    );
    if (up) return { base, call: request, output: () => output };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the model server never answered ${HEALTH_PATH}:\n${output}`);
}

/** Runs the server on a folder that cannot be served: it must exit non-zero with a message. */
export async function startBroken(modelDir: string, ram?: number): Promise<{ code: number | null; stderr: string }> {
  const [program = '', ...args] = modelServerCommand({ modelDir, port: await freePort(), model: 'broken', ...(ram ? { ram } : {}) });
  const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stderr };
}
