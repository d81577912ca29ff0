import type { Deps } from '../wiring/deps.js';
import { isClientError } from '../core/errors.js';
import { stopJob } from '../jobs/stop.js';
import { submitJob } from '../jobs/submit.js';
import { history, type JobMetrics } from '../metrics/store.js';
import { ENDED, jobId, jobsCollection, type JobDoc, type JobState } from '../records/jobs.js';
import { sweepsCollection, type SweepDoc, type TrialRecord } from '../records/sweeps.js';
import { better, bestOf, medianStops, progressOf, trialName, type TrialView } from './trials.js';

const ACTIVE: string[] = ['creating', 'running'];
/**
 * A trial's result is final this long after its job ended: on Kafka a metric the job posted last
 * may still be on its way to the store when the job's end is seen (the relay stores it
 * after the POST answered), and a final result is never read again.
 */
export const SETTLE_MS = 5000;
const isEnded = (state: string) => (ENDED as string[]).includes(state) || state === 'deleted';

/**
 * One pass of the sweep reconciler (docs/api.md#experiments), idempotent: for each running sweep,
 * reads its trials' jobs and their metrics, stops trials by the median rule, creates trial jobs
 * while fewer than `parallel` wait or run, and keeps `best`, `progress` and the state current; for
 * each deleting sweep, deletes its trial jobs, then the sweep. Each sweep's record is written with
 * a version check, so two passes at once cannot both advance it. Returns the sweeps it changed.
 */
export async function reconcileSweeps(deps: Deps): Promise<string[]> {
  const changed: string[] = [];
  const failures: Error[] = [];
  for (const sweep of await sweepsCollection(deps.store).find({ state: { $in: ['running', 'deleting'] } })) {
    try {
      if (await (sweep.state === 'deleting' ? advanceDeletion(sweep, deps) : advance(sweep, deps))) changed.push(sweep.name);
    } catch (err) {
      // One sweep's fault does not hold up the others; the pass still fails, so it is seen.
      failures.push(err as Error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `the sweep reconciler failed on ${failures.length} sweep(s): ${failures.map((e) => e.message).join('; ')}`);
  return changed;
}

async function advance(sweep: SweepDoc, deps: Deps): Promise<boolean> {
  const jobs = new Map((await jobsCollection(deps.store).find({ user: sweep.user, sweep: sweep.name })).map((j) => [j.name, j]));
  const results = [...sweep.results];
  const curves = new Map<string, (number | undefined)[]>();
  const ended: JobDoc[] = [];
  for (let i = 0; i < sweep.launched; i++) {
    const name = trialName(sweep.name, i + 1);
    const was = results[i] as TrialRecord;
    const job = jobs.get(name);
    if (!job) {
      if (!was.final) results[i] = { ...was, state: was.state === 'pending' ? 'pending' : 'deleted', final: was.state !== 'pending' };
      continue;
    }
    if (was.final) {
      ended.push(job);
      continue;
    }
    const metrics = await history(deps, sweep.user, name);
    curves.set(name, curveOf(metrics, sweep));
    const settled = isEnded(job.state) && deps.now().getTime() - Date.parse(job.updated_at) >= SETTLE_MS;
    results[i] = { state: job.state, ...bestPoint(metrics, sweep), ...(settled ? { final: true } : {}) };
  }
  const running = [...jobs.values()].filter((j) => j.state === 'running').map((j) => j.name);
  // The median rule needs the other trials' curves only once a running trial is past its first epochs.
  if (sweep.early_stop && !sweep.stopping && running.some((name) => (curves.get(name)?.length ?? 0) > EARLY_STOP_FROM)) {
    for (const job of ended) curves.set(job.name, await endedCurve(deps, job, sweep));
    for (const name of medianStops(running, curves, sweep.goal, EARLY_STOP_FROM)) await stopTrial(deps, jobs.get(name) as JobDoc, `stopped early by sweep ${sweep.name}`, results, sweep);
  }
  if (sweep.stopping) {
    for (const job of jobs.values()) if (ACTIVE.includes(job.state)) await stopTrial(deps, job, `stopped by user (sweep ${sweep.name})`, results, sweep);
  }
  let launched = sweep.launched;
  let active = results.slice(0, launched).filter((r) => ACTIVE.includes(r.state)).length;
  while (!sweep.stopping && launched < sweep.trials && active < sweep.parallel) {
    results[launched] = await startTrial(deps, sweep, launched, jobs);
    launched++;
    if (ACTIVE.includes(results[launched - 1]?.state ?? '')) active++;
  }
  return save(deps, sweep, results, launched);
}

/** Creates trial `i`'s job; one already there (a pass that died before saving) is taken as started. */
async function startTrial(deps: Deps, sweep: SweepDoc, i: number, jobs: Map<string, JobDoc>): Promise<TrialRecord> {
  const name = trialName(sweep.name, i + 1);
  const existing = jobs.get(name);
  if (existing) return { state: existing.state, value: null, epoch: null };
  const spec = { name, entry: sweep.entry, tenant: sweep.tenant, runtime: sweep.runtime, cpu: sweep.cpu, gpu: sweep.gpu, ram: sweep.ram, retries: sweep.retries };
  try {
    const job = await submitJob(deps, sweep.user, spec, { sweep: sweep.name, params: sweep.points[i] ?? {} });
    return { state: job.state, value: null, epoch: null };
  } catch (err) {
    if (!isClientError(err)) throw err;
    // Another pass created it since this one read the jobs: started, as above.
    const now = await jobsCollection(deps.store).get(jobId(sweep.user, name));
    if (now?.sweep === sweep.name) return { state: now.state, value: null, epoch: null };
    // Refused (the entry was removed, the user's job cap, …): this trial fails, the sweep goes on.
    deps.log.warn('a sweep trial could not be created', { sweep: sweep.name, user: sweep.user, trial: name, msg: (err as Error).message });
    return { state: 'error', value: null, epoch: null, final: true };
  }
}

async function stopTrial(deps: Deps, job: JobDoc, msg: string, results: TrialRecord[], sweep: SweepDoc): Promise<void> {
  const i = results.findIndex((_, k) => trialName(sweep.name, k + 1) === job.name);
  try {
    const after = await stopJob(deps, job._id, msg);
    if (i >= 0) results[i] = { ...(results[i] as TrialRecord), state: after.state };
  } catch (err) {
    if (!isClientError(err)) throw err; // it ended meanwhile: the next pass reads how
  }
}

async function save(deps: Deps, sweep: SweepDoc, results: TrialRecord[], launched: number): Promise<boolean> {
  const started = results.slice(0, launched);
  const notLaunched = sweep.stopping ? sweep.trials - launched : 0;
  const ended = started.filter((r) => isEnded(r.state)).length + notLaunched;
  const views: TrialView[] = started.map((r, i) => ({ job: trialName(sweep.name, i + 1), params: sweep.points[i] ?? {}, state: r.state, value: r.value, epoch: r.epoch }));
  // Finished once every trial's result is final, not merely its job ended (SETTLE_MS).
  const done = started.filter((r) => r.final).length + notLaunched === sweep.trials;
  const allFailed = launched > 0 && started.every((r) => r.state === 'error' || r.state === 'deleted');
  const set: Partial<SweepDoc> = {
    results,
    launched,
    progress: progressOf(ended, sweep.trials),
    best: bestOf(views, sweep.goal),
    ...(done
      ? { state: allFailed && !sweep.stopping ? ('error' as const) : ('finished' as const), ...(sweep.stopping ? { msg: 'stopped by user' } : allFailed ? { msg: 'every trial failed' } : {}) }
      : {}),
  };
  const same = launched === sweep.launched && !done && JSON.stringify(results) === JSON.stringify(sweep.results) && set.progress === sweep.progress;
  if (same) return false;
  return (await sweepsCollection(deps.store).update(sweep._id, { version: sweep.version }, { set })) !== null;
}

/** Deleting: every trial job is marked deleting (the job reconciler removes it), then the sweep goes. */
async function advanceDeletion(sweep: SweepDoc, deps: Deps): Promise<boolean> {
  const col = jobsCollection(deps.store);
  const jobs = await col.find({ user: sweep.user, sweep: sweep.name });
  for (const job of jobs) {
    if (job.state === 'deleting') continue;
    if (ACTIVE.includes(job.state)) await stopJob(deps, job._id, `stopped: sweep ${sweep.name} is being deleted`).catch((err: unknown) => (isClientError(err) ? undefined : Promise.reject(err)));
    const now = await col.get(job._id);
    if (now && (ENDED as JobState[]).includes(now.state)) await col.update(now._id, { version: now.version }, { set: { state: 'deleting' } });
  }
  if (jobs.length > 0) return true;
  return sweepsCollection(deps.store).remove(sweep._id, { state: 'deleting' });
}

/** docs/api.md#experiments: the median rule judges a trial from this epoch on. */
const EARLY_STOP_FROM = 3;

/**
 * An ended trial's curve never changes: kept in memory (bounded) so a pass of a large sweep with
 * early stopping reads the store only for its running trials. Keyed by the job's id, so a name
 * reused after deletion is not mistaken for the old job.
 */
const endedCurves = new Map<string, (number | undefined)[]>();
const MAX_CACHED_POINTS = 2_000_000;
let cachedPoints = 0;

async function endedCurve(deps: Deps, job: JobDoc, sweep: SweepDoc): Promise<(number | undefined)[]> {
  const key = `${job.uid}/${sweep.metric}`;
  const hit = endedCurves.get(key);
  if (hit) return hit;
  const curve = curveOf(await history(deps, sweep.user, job.name), sweep);
  if (cachedPoints + curve.length > MAX_CACHED_POINTS) {
    endedCurves.clear();
    cachedPoints = 0;
  }
  endedCurves.set(key, curve);
  cachedPoints += curve.length;
  return curve;
}

/** The sweep's metric by epoch (index = epoch). */
function curveOf(metrics: JobMetrics[], sweep: SweepDoc): (number | undefined)[] {
  const curve: (number | undefined)[] = [];
  for (const m of metrics) curve[m.epoch] = m[sweep.metric];
  return curve;
}

/** The best value of the sweep's metric so far and the epoch it came at (the earlier on a tie). */
function bestPoint(metrics: JobMetrics[], sweep: SweepDoc): { value: number | null; epoch: number | null } {
  let best: JobMetrics | undefined;
  for (const m of metrics) if (!best || better(sweep.goal, m[sweep.metric], best[sweep.metric])) best = m;
  return best ? { value: best[sweep.metric], epoch: best.epoch } : { value: null, epoch: null };
}
