import type { Runtime } from '../runtimes/catalog.js';
import type { Collection, Doc, Store } from '../store/port.js';
import type { Point, Space, Strategy } from '../sweeps/space.js';
import type { Best, Goal, Metric } from '../sweeps/trials.js';

export type SweepState = 'running' | 'finished' | 'error' | 'deleting';

/** What the sweep knows of one trial: its job's last state seen and its best value so far. */
export interface TrialRecord {
  /** The trial's job state, or `pending` before its job is created. */
  state: string;
  value: number | null;
  epoch: number | null;
  /** The job ended and its value was read after it ended: nothing about it changes any more. */
  final?: boolean;
}

export interface SweepDoc extends Doc {
  name: string;
  user: string;
  tenant: string;
  entry: string;
  runtime: Runtime;
  cpu: number;
  gpu: number;
  ram: number;
  space: Space;
  strategy: Strategy;
  trials: number;
  parallel: number;
  metric: Metric;
  goal: Goal;
  early_stop: boolean;
  retries: number;
  state: SweepState;
  progress: number;
  best: Best | null;
  msg?: string;
  /** Every trial's point, drawn once at creation, in trial order. */
  points: Point[];
  /** How many trials have their job created (trials 1 … launched). */
  launched: number;
  results: TrialRecord[];
  /** :stop was asked: no more trials start; the waiting and running ones are stopped. */
  stopping?: boolean;
}

export type SweepView = Pick<
  SweepDoc,
  | 'name'
  | 'user'
  | 'tenant'
  | 'entry'
  | 'runtime'
  | 'cpu'
  | 'gpu'
  | 'ram'
  | 'space'
  | 'strategy'
  | 'trials'
  | 'parallel'
  | 'metric'
  | 'goal'
  | 'early_stop'
  | 'retries'
  | 'state'
  | 'progress'
  | 'best'
  | 'msg'
  | 'created_at'
  | 'updated_at'
>;

export function sweepView(s: SweepDoc): SweepView {
  const { name, user, tenant, entry, runtime, cpu, gpu, ram, space, strategy, trials, parallel, metric, goal, early_stop, retries, state, progress, best, msg, created_at, updated_at } = s;
  return {
    name,
    user,
    tenant,
    entry,
    runtime,
    cpu,
    gpu,
    ram,
    space,
    strategy,
    trials,
    parallel,
    metric,
    goal,
    early_stop,
    retries,
    state,
    progress,
    best,
    ...(msg ? { msg } : {}),
    created_at,
    updated_at,
  };
}

export const sweepId = (user: string, name: string) => `${user}/${name}`;
export const sweepsCollection = (store: Store): Collection<SweepDoc> => store.collection<SweepDoc>('sweep');
