import type { Runtime } from '../runtimes/catalog.js';
import type { Collection, Doc, Store } from '../store/port.js';

export type JobState = 'creating' | 'running' | 'finished' | 'error' | 'deleting';

/**
 * Where the job's cpu/gpu/ram stand with the Resource-manager: waiting (queued), trying
 * (tried, outcome not recorded yet), held (confirmed), released, none (never held).
 */
export type ResState = 'waiting' | 'trying' | 'held' | 'released' | 'none';

export interface JobDoc extends Doc {
  uid: string;
  name: string;
  user: string;
  tenant: string;
  runtime: Runtime;
  entry: string;
  gpu: number;
  cpu: number;
  ram: number;
  state: JobState;
  progress: number;
  msg?: string;
  res: ResState;
  release_attempt?: number;
  /** Bumped after an unsuccessful try, so the next one has a fresh request id. */
  try_attempt?: number;
  /**
   * While waiting: when it became its user's first waiting job (docs/api.md#jobs, fair admission). Heads
   * take turns by it, and MLP_QUEUE_RESERVE seconds after it, resources are kept for the job.
   */
  head_at?: string;
  /** Admitted, it waits for its runtime's Python environment to be built (shared/jobs/launch.ts pythonFor). */
  awaits_runtime?: boolean;
  /** A sweep's trial: the sweep's name (docs/api.md#experiments). */
  sweep?: string;
  /** Its parameters, given to the script as MLP_PARAMS (a sweep's trial gets its point). */
  params?: Record<string, number | string>;
  /** docs/api.md#experiments: launched again this many times after a failed attempt (0–10). */
  retries?: number;
  /** Launches so far (1 on the first; unset before it). */
  attempt?: number;
  /** A failed attempt with retries left: the next one starts then (shared/jobs/retry.ts). */
  retry_at?: string;
  /** When it first reported running (its progress rate, for waiting jobs' estimates: shared/jobs/queue-view.ts). */
  running_at?: string;
  /** The workload was started (so the orchestrator knows it by uid). */
  launched?: boolean;
  /** The job said it has ended; its processes are being stopped before the state changes (jobs/ending.ts). */
  ending?: JobEnding;
}

export interface JobEnding {
  state: 'finished' | 'error';
  progress: number;
  msg?: string;
}

export type JobView = Pick<JobDoc, 'name' | 'user' | 'tenant' | 'runtime' | 'entry' | 'gpu' | 'cpu' | 'ram' | 'state' | 'progress' | 'msg' | 'created_at' | 'updated_at'> & {
  retries: number;
  attempt: number;
  /** While it waits for resources: its place and estimated wait (docs/api.md#experiments). */
  queue?: { position: number; eta_s: number | null };
};

/** The job as the API shows it; `queue` holds the waiting jobs' positions (shared/jobs/queue-view.ts). */
export function jobView(j: JobDoc, queue?: ReadonlyMap<string, { position: number; eta_s: number | null }>): JobView {
  const { name, user, tenant, runtime, entry, gpu, cpu, ram, state, progress, msg, created_at, updated_at } = j;
  const place = queue?.get(j._id);
  const retries = j.retries ?? 0;
  const attempt = j.attempt ?? 0;
  return { name, user, tenant, runtime, entry, gpu, cpu, ram, state, progress, retries, attempt, ...(msg ? { msg } : {}), ...(place ? { queue: place } : {}), created_at, updated_at };
}

/** docs/api.md#jobs: the transitions a heartbeat may make (from -> allowed targets). */
export const HEARTBEAT: Record<JobState, JobState[]> = {
  creating: ['running', 'error'],
  running: ['running', 'finished', 'error'],
  finished: [],
  error: [],
  deleting: [],
};

export const ENDED: JobState[] = ['finished', 'error'];
export const jobId = (user: string, name: string) => `${user}/${name}`;
export const jobsCollection = (store: Store): Collection<JobDoc> => store.collection<JobDoc>('job');
