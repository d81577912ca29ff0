import { rm } from 'node:fs/promises';
import type { Deps } from '../wiring/deps.js';
import { isClientError } from '../core/errors.js';
import { ENDED, jobsCollection, type JobDoc } from '../records/jobs.js';
import { finish as finishMetrics, removeAll as removeMetrics } from '../metrics/store.js';
import { serializeBy } from '../orchestrator/observe.js';
import { storagePaths } from '../storage/paths.js';
import { toExact } from '../tcc/amounts.js';
import { releaseOnce } from '../tcc/release-once.js';
import { settleTry } from '../tcc/settle.js';
import { applyEnding, stopProcesses } from './ending.js';
import { launch } from './launch.js';
import { afterFailure, relaunch, workloadId } from './retry.js';
import { planAdmission, type Queued, type TenantUse } from './queue.js';

// Request ids derive from the job's uid, so every retry of a step is the same TCC request.
export const resTryId = (j: Pick<JobDoc, 'uid' | 'try_attempt'>) => `jm-${j.uid}-t${j.try_attempt ?? 0}`;
export const resReleaseId = (j: Pick<JobDoc, 'uid' | 'release_attempt'>) => `jm-rel-${j.uid}-${j.release_attempt ?? 0}`;
/** Waiting jobs' notes (msg, head_at) written at once, per group. */
const NOTES_AT_ONCE = 100;

/**
 * Admits waiting jobs fairly across users (docs/api.md#jobs; the rule is planAdmission's) from one
 * snapshot of the queue and the tenants. Each admission moves res 'waiting' -> 'trying' -> 'held'
 * by conditional updates, the try and confirm in between (settleTrying resolves a crash there).
 * When another admitter got to a job first, or the ledger refuses a try the snapshot thought
 * would fit, the pass stops: the plan is stale, and the next pass plans again. Returns the names
 * admitted.
 */
export async function admitWaiting(deps: Deps): Promise<string[]> {
  const col = jobsCollection(deps.store);
  const queue = await col.find({ state: 'creating', res: { $in: ['waiting', 'trying'] } });
  // A user with a job being tried is left out of this pass: that job may yet come back to the
  // head of its user's queue (settleTrying), and the user's order must hold.
  const busy = new Set(queue.filter((j) => j.res === 'trying').map((j) => j.user));
  const waiting = new Map(queue.filter((j) => j.res === 'waiting' && !busy.has(j.user)).map((j) => [j._id, j]));
  if (waiting.size === 0) return [];
  const tenants: Record<string, TenantUse> = {};
  for (const name of new Set([...waiting.values()].map((j) => j.tenant))) {
    const t = await deps.resources.getTenant(name);
    if (t) tenants[name] = { capacity: t.capacity, inuse: t.inuse };
  }
  const queued = [...waiting.values()].map((j): Queued => ({ id: j._id, name: j.name, user: j.user, tenant: j.tenant, need: toExact(j), ...(j.head_at ? { head_at: j.head_at } : {}) }));
  const plan = planAdmission(queued, tenants, { now: deps.now(), reserveMs: deps.config.queueReserve * 1000 });
  // Every admission holds its resources first, in the plan's order, and the workloads start
  // after: a user whose turn comes later does not wait for the launches of those before.
  const held: JobDoc[] = [];
  let stale = false;
  for (const q of plan.admit) {
    const job = waiting.get(q.id);
    if (!job) continue;
    const outcome = await holdOne(job, deps);
    if (outcome === 'stale') {
      stale = true;
      break;
    }
    if (outcome !== 'gone') held.push(outcome);
  }
  const admitted: string[] = [];
  for (const job of held) {
    await launch(job, deps);
    admitted.push(job.name);
  }
  if (stale) return admitted;
  // What each waiting job waits for, and when it became its user's first (written only on change).
  // Independent conditional writes, so they go together (the embedded store syncs them once).
  const notes = plan.waiting.flatMap((w) => {
    const job = waiting.get(w.job.id);
    if (!job || (job.msg === w.msg && job.head_at === w.head_at)) return [];
    const change = w.head_at ? { set: { msg: w.msg, head_at: w.head_at } } : { set: { msg: w.msg }, unset: ['head_at' as const] };
    return [() => col.update(job._id, { version: job.version, res: 'waiting', state: 'creating' }, change)];
  });
  for (let i = 0; i < notes.length; i += NOTES_AT_ONCE) await Promise.all(notes.slice(i, i + NOTES_AT_ONCE).map((write) => write()));
  return admitted;
}

/** One admission up to its resources held (the job as held, to launch); 'stale' when the snapshot it was planned on no longer holds. */
async function holdOne(job: JobDoc, deps: Deps): Promise<JobDoc | 'stale' | 'gone'> {
  const col = jobsCollection(deps.store);
  const trying = await col.update(job._id, { version: job.version, res: 'waiting', state: 'creating' }, { set: { res: 'trying' } });
  if (!trying) return 'stale'; // another admitter is on it, or it was stopped
  try {
    await deps.tcc.try({ id: resTryId(trying), applier: 'jm', request_type: 'request', tenant: trying.tenant, cpu: trying.cpu, gpu: trying.gpu, ram: trying.ram });
    await deps.tcc.confirm(resTryId(trying), 'jm');
  } catch (err) {
    if (!isClientError(err)) throw err; // res stays 'trying'; settleTrying resolves it
    // Not free after all (or the try timed out): back in the queue, saying what it waits for. The
    // next attempt uses a fresh request id, since a timed-out one is refused for good.
    await col.update(trying._id, { version: trying.version }, { set: { res: 'waiting', msg: `waiting for resources: ${err.message}` }, inc: { try_attempt: 1 } });
    return 'stale';
  }
  const held = await col.update(trying._id, { version: trying.version }, { set: { res: 'held' }, unset: ['msg', 'head_at'] });
  if (!held) {
    // Stopped meanwhile (stopJob leaves `trying` alone): its try is confirmed, so it holds them; it
    // gives them back now, not when settleTrying would find the try after the TCC timeout.
    const now = await col.get(trying._id);
    const ended = now && now.res === 'trying' && [...ENDED, 'deleting'].includes(now.state);
    const marked = ended ? await col.update(now._id, { version: now.version, res: 'trying' }, { set: { res: 'held' } }) : null;
    if (marked) await releaseJob(marked, deps);
    return 'gone';
  }
  return held;
}

/**
 * Moves running jobs on from what the orchestrator reports: started, exited, or unknown. A local
 * job outlives a platform restart (the orchestrator adopts it and reports its real exit), so
 * "unknown" means its process is gone without a trace. A job held but never launched (the
 * platform died between admitting and starting it) is launched once it has waited `cutoff`.
 */
export async function syncWorkloads(deps: Deps, cutoff = new Date(deps.now().getTime() - deps.config.tccTimeout * 1000).toISOString()): Promise<string[]> {
  const col = jobsCollection(deps.store);
  const changed: string[] = [];
  for (const job of await col.find({ state: { $in: ['creating', 'running'] } })) {
    if (job.ending) {
      // It said it has ended, and the one who was ending it did not finish: processes, then state.
      await stopProcesses(job, deps);
      await applyEnding(job, deps);
      changed.push(job.name);
      continue;
    }
    if (job.res !== 'held') continue;
    if (job.retry_at) {
      // A failed attempt waits out its backoff, holding what it holds (shared/jobs/retry.ts).
      if (await relaunch(job, deps, launch)) changed.push(job.name);
      continue;
    }
    const s = await deps.orchestrator.status(workloadId(job));
    // Held but not started: the platform died between admitting and starting it (after `cutoff`), or
    // it waits for its runtime's environment (each pass: launch starts it once that is built).
    if (!s && !job.launched && job.state === 'creating' && (job.updated_at < cutoff || job.awaits_runtime)) {
      await launch(job, deps);
      changed.push(job.name);
      continue;
    }
    let set: Partial<JobDoc> | undefined;
    if (!s) set = job.launched ? { state: 'error', msg: "the job's process was lost (it left no record the platform could adopt)" } : undefined;
    else if (s.phase === 'running' && job.state === 'creating') set = { state: 'running', ...(job.running_at ? {} : { running_at: deps.now().toISOString() }) };
    // docs/api.md#jobs: without a final heartbeat, exit 0 is finished (progress 100), anything else error.
    else if (s.phase === 'succeeded') set = { state: 'finished', progress: 100 };
    else if (s.phase === 'failed') {
      const why = s.exceeded && s.reason ? s.reason : s.reason === 'stopped' ? 'stopped' : `the entry ended with ${s.reason ?? 'an error'}`;
      set = afterFailure(job, why, { exceeded: Boolean(s.exceeded), stopped: s.reason === 'stopped', now: deps.now() });
    }
    // Started, though the platform died before it could note so: stopping and deleting must know.
    if (s && !job.launched) set = { ...set, launched: true };
    if (set && (await col.update(job._id, { version: job.version }, { set }))) changed.push(job.name);
  }
  return changed;
}

/** Ended jobs give their resources back, exactly once; a still-running process is stopped first. */
export async function releaseEnded(deps: Deps): Promise<string[]> {
  const col = jobsCollection(deps.store);
  const released: string[] = [];
  for (const job of await col.find({ state: { $in: [...ENDED, 'deleting'] }, res: 'held' })) {
    if (await releaseJob(job, deps)) released.push(job.name);
  }
  return released;
}

export async function releaseJob(job: JobDoc, deps: Deps): Promise<boolean> {
  const col = jobsCollection(deps.store);
  // A heartbeat may have ended the job while its process still runs: it ends now.
  if (job.launched) await deps.orchestrator.stop(workloadId(job));
  await finishMetrics(deps, job.user, job.name);
  const outcome = await releaseOnce(deps, { id: resReleaseId(job), applier: 'jm', tenant: job.tenant, cpu: job.cpu, gpu: job.gpu, ram: job.ram, what: `job ${job._id}` });
  if (outcome === 'expired') {
    await col.update(job._id, { version: job.version }, { inc: { release_attempt: 1 } });
    return false;
  }
  return Boolean(await col.update(job._id, { version: job.version, res: 'held' }, { set: { res: 'released' } }));
}

/** Removes the process, the workspace, then the record (docs/api.md#jobs); idempotent. */
export async function finishDeletion(job: JobDoc, deps: Deps): Promise<boolean> {
  if (job.res === 'held' || job.res === 'trying') return false; // resources first (releaseEnded / settleTrying)
  if (job.launched) await deps.orchestrator.forget(workloadId(job));
  await removeMetrics(deps, job.user, job.name);
  await rm(storagePaths(deps.config.root).job(job.user, job.name), { recursive: true, force: true });
  return jobsCollection(deps.store).remove(job._id, { version: job.version });
}

/**
 * A try whose outcome was never recorded (the admitter died between steps), settled by settleTry:
 * cancelled — back to the queue, with a fresh try id — or held, as admitted.
 */
export async function settleTrying(job: JobDoc, deps: Deps): Promise<boolean> {
  const col = jobsCollection(deps.store);
  if ((await settleTry(deps.tcc, resTryId(job), 'jm')) === 'held') {
    // Admitted after all: no longer waiting (syncWorkloads launches it if the admitter died before).
    return Boolean(await col.update(job._id, { version: job.version }, { set: { res: 'held' }, unset: ['msg', 'head_at'] }));
  }
  const res = job.state === 'creating' ? 'waiting' : 'none';
  return Boolean(await col.update(job._id, { version: job.version }, { set: { res }, inc: { try_attempt: 1 } }));
}

/** One pass of the jobs reconciler; level-triggered and idempotent; frees resources before admitting. */
export async function reconcileJobs(deps: Deps) {
  const col = jobsCollection(deps.store);
  const cutoff = new Date(deps.now().getTime() - deps.config.tccTimeout * 1000).toISOString();
  const synced = await syncWorkloads(deps, cutoff);
  const released = await releaseEnded(deps);
  const settled: string[] = [];
  for (const job of await col.find({ res: 'trying', updated_at: { $lt: cutoff } })) if (await settleTrying(job, deps)) settled.push(job.name);
  const deleted: string[] = [];
  for (const job of await col.find({ state: 'deleting' })) if (await finishDeletion(job, deps)) deleted.push(job.name);
  const admitted = await admitWaiting(deps);
  return { synced, released, settled, deleted, admitted };
}

const passes = new WeakMap<Deps, Promise<unknown>>();

/** Passes never overlap within a process (the schedule's, and those workload events start). */
export const serializedReconcile = (deps: Deps) => serializeBy(passes, deps, () => reconcileJobs(deps));
