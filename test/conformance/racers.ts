import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import type { StoreSpec } from './fixtures/open-store.js';

const RACER = path.join(import.meta.dirname, 'fixtures', 'store-racer.ts');

export interface Racer {
  child: ChildProcess;
  lines: string[];
  /** Resolves with the first line (seen so far or later) that matches. */
  line(re: RegExp): Promise<string>;
  send(command: string): void;
  exited: Promise<number | null>;
}

/** Starts store-racer.ts as its own process; killed when the test ends. */
export function startRacer(t: Test, spec: StoreSpec, id: string, rounds: number, lanes: number): Racer {
  const child = spawn(process.execPath, ['--import=tsx', RACER, JSON.stringify(spec), id, String(rounds), String(lanes)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  createInterface({ input: child.stdout! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters) w();
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    child,
    lines,
    exited,
    send: (command) => child.stdin!.write(`${command}\n`),
    line: (re) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => re.test(l));
          if (found === undefined) return;
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        void exited.then((code) => {
          if (waiters.has(check)) {
            waiters.delete(check);
            reject(new Error(`racer exited (${code}) before printing ${re}; stderr:\n${stderr}`));
          }
        });
        check();
      }),
  };
}
