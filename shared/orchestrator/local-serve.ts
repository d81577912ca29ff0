import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
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
 * The folder for the server's socket, its uid's alone. A socket left by the server's last run stays
 * until the new one replaces it (the model server renames its fresh socket over it): meanwhile a
 * connection is refused, as at a port nobody listens on, not told there is no socket (which nginx
 * logs as critical). Synchronous: the orchestrator launches without yielding.
 */
export function prepareServeSocket(socket: string, hostUid: number | undefined): void {
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) throw new Error(`the server's socket path ${socket} is longer than ${MAX_SOCKET_PATH} bytes: choose a shorter MLP_ROOT`);
  const dir = path.dirname(socket);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (hostUid !== undefined) chownSync(dir, hostUid, hostUid);
}

/**
 * Socket folders nobody serves on any more (deleted apps', an earlier platform process's): each
 * whose socket refuses a connection, or has none, goes. A live server's stays, and so does one this
 * process has launched since (`inUse`, checked after the probe: a server starting while the sweep
 * runs refuses connections until it listens, yet its folder is not stale).
 */
export async function sweepServeSockets(stateDir: string, inUse: (id: string) => boolean = () => false): Promise<void> {
  const dir = path.join(stateDir, 'apps');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    if (inUse(name) || (await connects(path.join(dir, name, 's.sock')))) continue;
    // Synchronous from the check on: no launch can slip in between the check and the removal.
    if (!inUse(name)) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

function connects(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ path: socketPath });
    c.setTimeout(1000, () => c.destroy());
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
    c.once('close', () => resolve(false));
  });
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
