import { chownSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

/**
 * A sandboxed server workload (an app's model server) has a network of its own, so no port of
 * the host: it listens on a Unix socket in a folder of the orchestrator's state directory (inside
 * MLP_ROOT, which only the platform may enter), the folder bound writable into its sandbox at the
 * same path. Nothing else on the host reaches it: other users' processes cannot pass the folder
 * (0700, its own uid's), and jobs and other servers do not see it at all (their view of MLP_ROOT
 * is empty). The app gateway (the platform, root) connects to it; so does the health check.
 */
export function serveSocketPath(stateDir: string, id: string): string {
  return path.join(stateDir, 'apps', id, 's.sock');
}

/** sun_path holds 108 bytes with its NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * A fresh folder for the server's socket (a stale socket would make listen fail), its uid's alone.
 * Synchronous: the orchestrator launches without yielding, so two starts of one id cannot interleave.
 */
export function prepareServeSocket(socket: string, hostUid: number | undefined): void {
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) throw new Error(`the server's socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: choose a shorter MLP_ROOT`);
  const dir = path.dirname(socket);
  mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { mode: 0o700 });
  if (hostUid !== undefined) chownSync(dir, hostUid, hostUid);
}

export function dropServeSocket(socket: string): void {
  rmSync(path.dirname(socket), { recursive: true, force: true });
}

/** Whether the server answers 200 on `urlPath` (any failure: not yet; the caller polls again). */
export function answers200(at: { port: number } | { socketPath: string }, urlPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const target = 'socketPath' in at ? { socketPath: at.socketPath } : { host: '127.0.0.1', port: at.port };
    const req = http.get({ ...target, path: urlPath, timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Nothing on the host listens on the port (locally an unsandboxed server takes it). */
export function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
