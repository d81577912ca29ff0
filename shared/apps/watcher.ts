import type { Deps } from '../wiring/deps.js';
import { errorMessage } from '../core/errors.js';
import { observeWorkloads, serializeBy } from '../orchestrator/observe.js';
import type { WorkloadStatus } from '../orchestrator/port.js';
import { appsCollection, portsCollection, type AppDoc } from '../records/apps.js';
import { settleHold } from '../tcc/hold.js';
import { bumpCheckEpoch } from './check-epochs.js';
import { APP_HOLD, appMachine, finishAppDeletion, lastLogLine, startApp } from './lifecycle.js';

/** Failures in a row (without serving for HEALTHY_RESET_MS in between) before an app goes to error. */
export const MAX_FAILURES = 5;
/** A server not healthy this long after its start counts as failed (loading a model takes seconds). */
export const START_TIMEOUT_MS = 120_000;
/** A server that has served this long has recovered: its failure count starts again. */
export const HEALTHY_RESET_MS = 30_000;
/** Backoff before restarting a failed server: 0.5 s, 1 s, 2 s, … at most 15 s. */
export const backoffMs = (failures: number) => Math.min(500 * 2 ** Math.max(0, failures - 1), 15_000);

export interface PassSummary {
  started: string[];
  ready: string[];
  restarting: string[];
  failed: string[];
  deleted: string[];
  settled: string[];
  errors: string[];
}

/**
 * One level-triggered pass of the app watcher (docs/architecture.md: the only writer of an app's
 * runtime state). It looks at every app and moves it on: starts servers of creating apps (again
 * after a restart of the platform), marks them ready once healthy, restarts failed servers of
 * ready apps with backoff, ends in error after MAX_FAILURES, finishes deletions. Every step is a
 * conditional update, so a pass that dies half-way is finished by the next one.
 */
export async function watchPass(deps: Deps): Promise<PassSummary> {
  const col = appsCollection(deps.store);
  const out: PassSummary = { started: [], ready: [], restarting: [], failed: [], deleted: [], settled: [], errors: [] };
  const apps = await col.find();
  for (const app of apps) {
    try {
      await step(app, deps, out);
    } catch (err) {
      // One app's fault must not stop the others; the next pass retries it.
      deps.log.error('app watcher step failed', { app: app._id, err: errorMessage(err) });
      out.errors.push(app._id);
    }
  }
  await dropOrphanPorts(deps, apps);
  return out;
}

async function step(app: AppDoc, deps: Deps, out: PassSummary): Promise<void> {
  const col = appsCollection(deps.store);
  const now = deps.now().getTime();
  if (app.res === 'trying') {
    // A create still running may hold res 'trying' for a moment; after the TCC timeout it cannot.
    if (now - Date.parse(app.updated_at) > deps.config.tccTimeout * 1000 && (await settleHold(col, app, APP_HOLD, deps))) out.settled.push(app._id);
    return;
  }
  if (app.state === 'deleting') {
    if (await finishAppDeletion(app, deps)) out.deleted.push(app._id);
    return;
  }
  if (app.state === 'error') {
    if (app.launched) {
      await deps.orchestrator.stop(app.uid);
      await deps.orchestrator.forget(app.uid);
      await col.update(app._id, { version: app.version }, { set: { launched: false } });
    }
    return;
  }
  if (app.res !== 'held') return;
  const status = app.launched ? await deps.orchestrator.status(app.uid) : null;
  if (!status) {
    // Never started, or the platform restarted and its servers with it: start it (after any backoff).
    if (app.restart_at && now < Date.parse(app.restart_at)) return;
    const claimed = await col.update(app._id, { version: app.version }, { set: { launched: true, started_at: new Date(now).toISOString() }, unset: ['restart_at', 'serving_since'] });
    if (!claimed) return;
    await startApp(deps, claimed);
    out.started.push(app._id);
    return;
  }
  if (status.phase === 'running' && status.ready) return serving(app, deps, out);
  if (status.phase === 'pending' || status.phase === 'running') {
    // On Kubernetes a ready app's Deployment replaces its pod itself: not ready meanwhile is no failure.
    // The new pod has a new address: the Nginx app gateway must not keep sending to the old one.
    if (restartsItself(deps) && app.state === 'ready') return bumpCheckEpoch(deps.config.root, app.user, `app ${app.name} is being replaced`);
    if (app.started_at && now - Date.parse(app.started_at) > START_TIMEOUT_MS) {
      await deps.orchestrator.stop(app.uid);
      await failed(app, deps, out, `the model server did not become healthy within ${START_TIMEOUT_MS / 1000} s`);
    }
    return;
  }
  // A model the server says it can never serve ends the app at once, not after MAX_FAILURES
  // restarts; so does one it could not even load within the app's ram (it would only fail again).
  const unservable = status.exitCode === deps.runtimes.modelServer.unservableExit || (status.exceeded === 'ram' && app.state === 'creating');
  await failed(app, deps, out, reasonOf(status), restartsItself(deps) || unservable);
}

/**
 * Kubernetes restarts a crashed server itself (the Deployment) and reports failed only after it
 * has failed repeatedly (orchestrator/kube-pods.ts): the watcher must not restart it again, and
 * that failure is final. Locally the watcher is what restarts servers.
 */
const restartsItself = (deps: Deps) => deps.orchestrator.kind === 'kubernetes';

async function serving(app: AppDoc, deps: Deps, out: PassSummary): Promise<void> {
  const col = appsCollection(deps.store);
  const now = deps.now();
  if (app.state === 'creating') {
    if (await col.update(app._id, { version: app.version, state: 'creating' }, { set: { state: appMachine.transition('creating', 'served'), serving_since: now.toISOString() }, unset: ['msg'] }))
      out.ready.push(app._id);
  } else if (!app.serving_since) {
    await col.update(app._id, { version: app.version }, { set: { serving_since: now.toISOString() } });
  } else if ((app.failures ?? 0) > 0 && now.getTime() - Date.parse(app.serving_since) > HEALTHY_RESET_MS) {
    await col.update(app._id, { version: app.version }, { set: { failures: 0 }, unset: ['msg'] });
  }
}

/** A server ended or never became healthy: restart it with backoff, or after too many failures end in error. */
async function failed(app: AppDoc, deps: Deps, out: PassSummary, reason: string, final = false): Promise<void> {
  const col = appsCollection(deps.store);
  const failures = final ? Math.max(MAX_FAILURES, (app.failures ?? 0) + 1) : (app.failures ?? 0) + 1;
  const last = await lastLogLine(deps, app);
  const why = `${reason}${last ? ` (last output: ${last})` : ''}`;
  await deps.orchestrator.forget(app.uid);
  if (failures >= MAX_FAILURES) {
    const msg = `the model server failed ${failures} times in a row; last: ${why}`;
    if (await col.update(app._id, { version: app.version }, { set: { state: appMachine.transition(app.state, 'fail'), msg, failures, launched: false }, unset: ['serving_since', 'restart_at'] })) {
      out.failed.push(app._id);
      // The Nginx app gateway may keep this app's check for a few seconds: not past its failure.
      if (app.state === 'ready') await bumpCheckEpoch(deps.config.root, app.user, `app ${app.name} failed`);
    }
    return;
  }
  const restartAt = new Date(deps.now().getTime() + backoffMs(failures)).toISOString();
  const msg = `the model server ${app.state === 'ready' ? 'stopped' : 'failed to start'} (${why}); restarting (failure ${failures} of ${MAX_FAILURES})`;
  if (await col.update(app._id, { version: app.version }, { set: { failures, restart_at: restartAt, launched: false, msg }, unset: ['serving_since'] })) out.restarting.push(app._id);
}

function reasonOf(s: WorkloadStatus): string {
  if (s.phase === 'succeeded') return 'it exited with code 0';
  return s.reason ? `it ended with ${s.reason}` : 'it failed';
}

/** A create that died between claiming a port and writing its app leaves a claim nobody holds. */
async function dropOrphanPorts(deps: Deps, apps: AppDoc[]): Promise<void> {
  const live = new Set(apps.map((a) => a.uid));
  const cutoff = new Date(deps.now().getTime() - deps.config.tccTimeout * 1000).toISOString();
  const ports = portsCollection(deps.store);
  for (const claim of await ports.find({ created_at: { $lt: cutoff } })) {
    if (!live.has(claim.app_uid)) await ports.remove(claim._id, { version: claim.version });
  }
}

const passes = new WeakMap<Deps, Promise<unknown>>();

/** Passes never overlap within a process (the service's own, and one asked for by the route). */
export const serializedPass = (deps: Deps): Promise<PassSummary> => serializeBy(passes, deps, () => watchPass(deps));

/** How often the always-on watcher looks at every app even without events. */
export const PASS_INTERVAL_MS = 1000;

/**
 * The always-on app watcher: a pass at start (which resumes creating and deleting apps and
 * restarts servers the platform lost), after every workload event, and every PASS_INTERVAL_MS.
 */
export function startAppWatcher(deps: Deps): { stop(): Promise<void> } {
  return observeWorkloads({ orchestrator: deps.orchestrator, log: deps.log, what: 'app watcher', pass: () => serializedPass(deps), intervalMs: PASS_INTERVAL_MS });
}
