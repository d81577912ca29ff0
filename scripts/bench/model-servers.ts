// The model servers of a platform's apps, reached directly rather than through the app gateway, for
// scripts/bench/predict.ts: where they listen, their pids, one request, the latency of one row.
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { HEALTH_PATH } from '../../templates/model-server-tf/command.js';
import { platformNode } from '../../templates/runtime-tf/command.js';
import type { Target } from './lib.js';

/**
 * `n` requests to each model server, one at a time, alternating between them so a busy moment of
 * the shared machine falls on both; each on its own kept-alive connection. Milliseconds per request.
 */
export async function oneRowLatency(directs: Record<string, Target>, n: number): Promise<Record<string, number[]>> {
  const agents = Object.fromEntries(Object.keys(directs).map((k) => [k, new http.Agent({ keepAlive: true, maxSockets: 1 })]));
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(directs).map((k) => [k, []]));
  try {
    const warmUp = Math.min(20, n);
    for (let i = 0; i < warmUp + n; i++) {
      for (const [label, target] of Object.entries(directs)) {
        const t0 = performance.now();
        const a = await request(target, agents[label]);
        if (a.status !== 200) throw new Error(`${target.url} answered ${a.status}: ${a.text}`);
        if (i >= warmUp) times[label]?.push(performance.now() - t0);
      }
    }
  } finally {
    for (const a of Object.values(agents)) a.destroy();
  }
  return times;
}

/** One request with node:http (which, unlike fetch, also reaches a Unix socket). */
export function request(target: Target, agent?: http.Agent): Promise<{ status: number; text: string }> {
  const body = target.body ?? '';
  return new Promise((resolve, reject) => {
    const req = http.request(
      target.url,
      {
        method: target.method ?? 'GET',
        headers: { ...target.headers, 'content-length': Buffer.byteLength(body) },
        ...(target.socketPath ? { socketPath: target.socketPath } : {}),
        ...(agent ? { agent } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The sockets of the sandboxed model servers under MLP_ROOT (named s.sock), keyed by the model each says it serves. */
export async function modelServers(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) return walk(p);
      return e.name === 's.sock' && e.isSocket() ? [p] : [];
    });
  for (const socketPath of walk(root)) {
    const health = await request({ url: `http://localhost${HEALTH_PATH}`, socketPath }).catch(() => undefined);
    if (health?.status === 200) found.set((JSON.parse(health.text) as { model: string }).model, socketPath);
  }
  return found;
}

/**
 * The pid (as this host sees it) of the model server serving the folder `modelDir`: the node
 * process whose argv names it (not bwrap, which names it too). Undefined when none is found
 * (another user's process, or another platform); then no CPU time is measured for it.
 */
export function pidOf(modelDir: string): number | undefined {
  const node = platformNode()[0] ?? process.execPath;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.indexOf('--model-dir');
    if (i > 0 && argv[i + 1] === modelDir && (argv[0] === node || path.basename(argv[0] ?? '') === 'node')) return Number(pid);
  }
  return undefined;
}
