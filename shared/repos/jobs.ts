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
  /** Admitted, it waits for its runtime's Python environment to be built (jobs/lifecycle.ts pythonFor). */
  awaits_runtime?: boolean;
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

export type JobView = Pick<JobDoc, 'name' | 'user' | 'tenant' | 'runtime' | 'entry' | 'gpu' | 'cpu' | 'ram' | 'state' | 'progress' | 'msg' | 'created_at' | 'updated_at'>;

export function jobView(j: JobDoc): JobView {
  const { name, user, tenant, runtime, entry, gpu, cpu, ram, state, progress, msg, created_at, updated_at } = j;
  return { name, user, tenant, runtime, entry, gpu, cpu, ram, state, progress, ...(msg ? { msg } : {}), created_at, updated_at };
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
