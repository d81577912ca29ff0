import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from '../core/log.js';
import { API_SOCKET_NAME, HOSTS_FILE, sandboxHosts } from './sandbox-bwrap.js';

/** Unix socket paths longer than this do not fit sockaddr_un (108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

export interface ApiBridge {
  /** The folder bound into sandboxes at API_SOCKET_DIR: the socket and the sandbox's hosts file. */
  dir: string;
  close(): Promise<void>;
}

/**
 * The one way out of a sandboxed job's network namespace (sandbox.ts): a Unix socket in a folder
 * only the platform and its sandboxes see, whose connections are carried, byte for byte, to the
 * API (`target()`: MLP_API's host and port, read per connection since the gateway may learn its
 * port after the orchestrator starts). Jobs outlive the platform: a later platform makes the socket
 * again at the same path, and the folder bound into each running sandbox shows the new one.
 */
export async function startApiBridge(opts: { dir: string; target: () => string | undefined; log: Logger }): Promise<ApiBridge> {
  const socketPath = path.join(opts.dir, API_SOCKET_NAME);
  if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
    throw new Error(`the API socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes, which a Unix socket cannot be: use a shorter MLP_ROOT`);
  }
  // Searchable by every sandbox uid; the folder above it (MLP_ROOT) keeps the host's other users out.
  mkdirSync(opts.dir, { recursive: true, mode: 0o755 });
  chmodSync(opts.dir, 0o755);
  rmSync(socketPath, { force: true }); // left by an earlier platform process
  writeHosts(opts.dir, opts.target());
  const server = net.createServer((inside) => {
    const url = opts.target();
    if (!url) return inside.destroy();
    const { hostname, port } = hostPort(url);
    const outside = net.connect({ host: hostname, port });
    const end = () => {
      inside.destroy();
      outside.destroy();
    };
    inside.once('error', end);
    outside.once('error', end);
    inside.once('close', end);
    outside.once('close', end);
    inside.pipe(outside);
    outside.pipe(inside);
  });
  server.on('error', (err) => opts.log.error("the jobs' API bridge failed", { err: err.message, socket: socketPath }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A job's uid is not the platform's: it must be able to connect.
  chmodSync(socketPath, 0o666);
  return {
    dir: opts.dir,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

/** The hosts file sandboxes see: MLP_API's host name is their own loopback, where socat listens. */
export function writeHosts(dir: string, apiUrl: string | undefined): void {
  const file = path.join(dir, HOSTS_FILE);
  const text = sandboxHosts(apiUrl ? hostPort(apiUrl).hostname : 'localhost');
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  // Running sandboxes have this very file bound: rewritten only when its text changes.
  if (current !== text) writeFileSync(file, text, { mode: 0o644 });
}

/** MLP_API's host and port (80 or 443 by scheme when the URL names none). */
export function hostPort(url: string): { hostname: string; port: number } {
  const u = new URL(url);
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  return { hostname, port: u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80 };
}

/**
 * MLP_API as a sandboxed workload calls it: the same URL, but a port below 1024 (an API served on
 * 80 or 443) moves up by 20,000 (not 10,000: fetch refuses 10080) — inside, socat runs as the workload's unprivileged uid and may
 * not listen on a privileged port. The bridge carries the bytes as they are, whatever the port.
 */
export function insideApi(url: string): { url: string; port: number } {
  const { port } = hostPort(url);
  if (port >= 1024) return { url, port };
  const u = new URL(url);
  u.port = String(port + 20_000);
  return { url: url.endsWith('/') || u.pathname !== '/' ? u.href : u.href.replace(/\/$/, ''), port: port + 20_000 };
}
