import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { HEALTH_PATH, modelServerCommand } from '../../templates/model-server-tf/command.js';
import type { Deps } from '../deps.js';
import { defineMachine } from '../fsm.js';
import type { Workload } from '../orchestrator/port.js';
import { appsCollection, type AppDoc, type AppState } from '../repos/apps.js';
import { storagePaths } from '../storage.js';
import { releaseHold, type HoldSpec } from '../tcc/hold.js';
import { releasePort } from './ports.js';

/** An app reserves cpu/gpu/ram while it lives (API.md §8). */
export const APP_HOLD: HoldSpec<AppDoc> = { applier: 'am', amounts: (a) => ({ cpu: a.cpu, gpu: a.gpu, ram: a.ram }) };

/** API.md §8: creating → ready/error → deleting (delete from ready or error); a ready app whose server keeps failing → error. */
export const appMachine = defineMachine<AppState, 'served' | 'fail' | 'delete'>({
  creating: { served: 'ready', fail: 'error' },
  ready: { fail: 'error', delete: 'deleting' },
  error: { delete: 'deleting' },
  deleting: { delete: 'deleting' },
});

const logFileOf = (deps: Deps, app: AppDoc) => path.join(storagePaths(deps.config.root).app(app.user, app.name), 'log', 'server.log');

/** The model server of the app's model, on the app's port, as a workload of the orchestrator. */
export function appWorkload(deps: Deps, app: AppDoc): Workload {
  const paths = storagePaths(deps.config.root);
  const dir = paths.app(app.user, app.name);
  return {
    id: app.uid,
    kind: 'app',
    labels: { user: app.user, name: app.name, model: app.model_name },
    // In a pod the server is reached on the pod's address, not loopback. The Kubernetes adapter
    // mounts the model's folder (named here) read-only and the app's folder (workdir) writable;
    // the local adapter runs it as a plain child process (platform code, no sandbox).
    command: modelServerCommand({ modelDir: paths.model(app.user, app.model_name), port: app.port, model: app.model_name, ram: app.ram, ...(deps.orchestrator.kind === 'kubernetes' ? { host: '0.0.0.0' } : {}) }),
    workdir: dir,
    env: {},
    logFile: logFileOf(deps, app),
    resources: { cpu: app.cpu, gpu: app.gpu, ram: app.ram },
    health: { port: app.port, path: HEALTH_PATH },
  };
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
    const lines = buf.toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean);
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
