import { chown, mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Deps } from '../wiring/deps.js';
import { defineMachine } from '../core/fsm.js';
import type { Workload } from '../orchestrator/port.js';
import { appsCollection, type AppDoc, type AppState } from '../records/apps.js';
import { giveTree } from '../jobs/ownership.js';
import { canMapUids, userHostUid } from '../orchestrator/userns.js';
import { runtimeFiles } from '../runtimes/sandbox-files.js';
import { storagePaths } from '../storage/paths.js';
import { releaseHold, type HoldSpec } from '../tcc/hold.js';
import { releasePort } from './ports.js';

/** An app reserves cpu/gpu/ram while it lives (docs/api.md#applications). */
export const APP_HOLD: HoldSpec<AppDoc> = { applier: 'am', amounts: (a) => ({ cpu: a.cpu, gpu: a.gpu, ram: a.ram }) };

/** docs/api.md#applications: creating → ready/error → deleting (delete from ready or error); a ready app whose server keeps failing → error. */
export const appMachine = defineMachine<AppState, 'served' | 'fail' | 'delete'>({
  creating: { served: 'ready', fail: 'error' },
  ready: { fail: 'error', delete: 'deleting' },
  error: { delete: 'deleting' },
  deleting: { delete: 'deleting' },
});

const logFileOf = (deps: Deps, app: AppDoc) => path.join(storagePaths(deps.config.root).app(app.user, app.name), 'log', 'server.log');

/**
 * The model server of the app's model (the runtimes port's modelServer), on the app's port, as a
 * workload of the orchestrator. Locally it runs like a job (orchestrator/sandbox.ts): its user's own
 * host uid, of MLP_ROOT only its model folder (and its app folder, where it starts) read-only,
 * its app's cpu and ram as hard limits, and a network of its own — the orchestrator names a Unix
 * socket (socketEnv) where the app gateway alone reaches it. On Kubernetes the pod is the
 * sandbox: the adapter mounts the model's folder (named in the command) read-only and the app's
 * folder (workdir) writable for the log, and the server listens on the pod's address.
 */
export function appWorkload(deps: Deps, app: AppDoc): Workload {
  const paths = storagePaths(deps.config.root);
  const dir = paths.app(app.user, app.name);
  const modelDir = paths.model(app.user, app.model_name);
  const local = deps.orchestrator.kind === 'local';
  const sandboxed = local && deps.jobSandbox.mode !== 'off';
  const hostUid = sandboxed && canMapUids() ? userHostUid(app.user) : undefined;
  const server = deps.runtimes.modelServer;
  return {
    id: app.uid,
    kind: 'app',
    labels: { user: app.user, name: app.name, model: app.model_name },
    command: server.command({ modelDir, port: app.port, model: app.model_name, ram: app.ram, ...(deps.orchestrator.kind === 'kubernetes' ? { host: '0.0.0.0' } : {}) }),
    workdir: dir,
    env: {},
    logFile: logFileOf(deps, app),
    resources: { cpu: app.cpu, gpu: app.gpu, ram: app.ram },
    health: { port: app.port, path: server.healthPath, socketEnv: server.socketEnv },
    ...(sandboxed ? { sandbox: { writable: [], readOnly: [modelDir, dir, ...runtimeFiles(server.reads())], hidden: [deps.config.root], ...(hostUid !== undefined ? { hostUid } : {}) } } : {}),
  };
}

/**
 * Starts the app's server. Where it runs as its user's own host uid, its model folder becomes
 * that uid's first (same modes: nobody else gains; every step taken without following links),
 * and so does its app folder itself (where it starts; the log inside stays the platform's).
 */
export async function startApp(deps: Deps, app: AppDoc): Promise<void> {
  const w = appWorkload(deps, app);
  const uid = w.sandbox?.hostUid;
  if (uid !== undefined) {
    await giveTree(deps.config.root, ['models', app.user, app.model_name], uid);
    await mkdir(w.workdir, { recursive: true });
    await chown(w.workdir, uid, uid); // the platform's own folder: apps/{user} is no tenant's to change
  }
  await deps.orchestrator.start(w);
}

/** The last line the server wrote, so an app in error says why (bounded: read from the end). */
export async function lastLogLine(deps: Deps, app: AppDoc): Promise<string> {
  let handle;
  try {
    handle = await open(logFileOf(deps, app), 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 4096);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const lines = buf
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    return (lines.at(-1) ?? '').slice(0, 300);
  } finally {
    await handle.close();
  }
}

/** Stops the server, releases the resources exactly once, frees the port, then the files and record. Idempotent. */
export async function finishAppDeletion(app: AppDoc, deps: Deps): Promise<boolean> {
  const col = appsCollection(deps.store);
  await deps.orchestrator.stop(app.uid);
  await deps.orchestrator.forget(app.uid);
  const released = await releaseHold(col, app, APP_HOLD, deps);
  if (!released) return false;
  await releasePort(deps, released.port, released.uid);
  await rm(storagePaths(deps.config.root).app(released.user, released.name), { recursive: true, force: true });
  return col.remove(released._id, { version: released.version });
}
