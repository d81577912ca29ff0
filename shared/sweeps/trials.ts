import type { Point } from './space.js';

/** docs/api.md#experiments: a sweep's name is a job name of at most 40 letters (trial names add up to 3). */
export const SWEEP_NAME = '^[a-z]{1,40}$';

/** The trial's number in letters: 1 → a, 26 → z, 27 → aa, 703 → aaa (bijective base 26). */
export function trialLetters(n: number): string {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`trial numbers start at 1 (got ${n})`);
  let out = '';
  for (let k = n; k > 0; k = Math.floor((k - 1) / 26)) out = String.fromCharCode(97 + ((k - 1) % 26)) + out;
  return out;
}

/** The job name of trial `n` (1-based) of `sweep`. */
export const trialName = (sweep: string, n: number): string => `${sweep}${trialLetters(n)}`;

/** Every trial name of a sweep of `count` trials, in trial order (all reserved at creation). */
export const trialNames = (sweep: string, count: number): string[] => Array.from({ length: count }, (_, i) => trialName(sweep, i + 1));

export type Goal = 'max' | 'min';
export type Metric = 'accuracy' | 'loss';

/** Default goal of a metric: accuracy up, loss down. */
export const defaultGoal = (metric: Metric): Goal => (metric === 'accuracy' ? 'max' : 'min');

/** Whether `a` is better than `b` for the goal. */
export const better = (goal: Goal, a: number, b: number): boolean => (goal === 'max' ? a > b : a < b);

/** One trial as `GET …/sweeps/{sweep}/trials` shows it; `value`/`epoch` are its best so far. */
export interface TrialView {
  job: string;
  params: Point;
  state: string;
  value: number | null;
  epoch: number | null;
}

export interface Best {
  job: string;
  params: Point;
  value: number;
  epoch: number;
}

/** The trial with the best value so far (the earlier trial on a tie), or null before any metric. */
export function bestOf(trials: TrialView[], goal: Goal): Best | null {
  let best: Best | null = null;
  for (const t of trials) {
    if (t.value === null || t.epoch === null) continue;
    if (!best || better(goal, t.value, best.value)) best = { job: t.job, params: t.params, value: t.value, epoch: t.epoch };
  }
  return best;
}

/**
 * The median stopping rule (docs/api.md#experiments): from epoch 3 on, a running trial whose best value
 * so far is worse than the median of the other trials' values at the same epoch is stopped.
 * `curves` maps each trial to its values by epoch (index = epoch; holes allowed). Returns the names
 * of the running trials to stop. Trials that did not reach the epoch do not count toward its median;
 * with no other trial there, nothing is stopped.
 */
export function medianStops(running: string[], curves: Map<string, (number | undefined)[]>, goal: Goal, fromEpoch = 3): string[] {
  const stop: string[] = [];
  for (const job of running) {
    const own = curves.get(job) ?? [];
    const epoch = own.length - 1;
    if (epoch < fromEpoch) continue;
    const others: number[] = [];
    for (const [other, curve] of curves) {
      const v = curve[epoch];
      if (other !== job && v !== undefined) others.push(v);
    }
    if (others.length === 0) continue;
    const seen = own.filter((v): v is number => v !== undefined);
    if (seen.length === 0) continue;
    const bestSoFar = seen.reduce((a, b) => (better(goal, b, a) ? b : a));
    if (better(goal, median(others), bestSoFar)) stop.push(job);
  }
  return stop;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The share of trials that ended, 0–100 (rounded down, so 100 means every one ended). */
export const progressOf = (ended: number, total: number): number => (total === 0 ? 100 : Math.floor((ended * 100) / total));
