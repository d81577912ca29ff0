import type { Deps } from '../wiring/deps.js';
import { Invalid } from '../core/errors.js';
import { DEFAULT_PATTERN } from '../core/validation.js';
import { MAX_EPOCHS } from './bounds.js';
import { history, type JobMetrics } from './store.js';

/** docs/api.md#experiments: at most this many jobs in one comparison. */
export const MAX_COMPARED = 100;
/** Points per job unless `?points=` says otherwise: 100 runs × 1,000 points stay a few MB. */
export const DEFAULT_POINTS = 1000;

/** `?jobs=a,b,c` as distinct job names, in the order given; refuses a bad or oversized list. */
export function comparedJobs(text: string | undefined): string[] {
  if (!text) throw new Invalid('query "jobs" is missing: give the jobs to compare as ?jobs=a,b,c');
  const names = [...new Set(text.split(','))];
  if (names.length > MAX_COMPARED) throw new Invalid(`query "jobs" names ${names.length} jobs; at most ${MAX_COMPARED} can be compared at once`);
  const pattern = new RegExp(DEFAULT_PATTERN);
  for (const name of names) if (!pattern.test(name)) throw new Invalid(`query "jobs": "${name}" is not a job name (${DEFAULT_PATTERN})`);
  return names;
}

/** `?points=`: 2 to MAX_EPOCHS, default DEFAULT_POINTS. */
export function pointsLimit(text: string | undefined): number {
  if (text === undefined) return DEFAULT_POINTS;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 2 || n > MAX_EPOCHS) throw new Invalid(`query "points" must be an integer from 2 to ${MAX_EPOCHS} (it is "${text}")`);
  return n;
}

/**
 * At most `limit` points of an epoch-ordered list, evenly spaced by position, always keeping the
 * first and the last (so a chart's ends and its latest value stay exact).
 */
export function thin<T>(points: T[], limit: number): T[] {
  if (points.length <= limit) return points;
  const step = (points.length - 1) / (limit - 1);
  return Array.from({ length: limit }, (_, i) => points[Math.round(i * step)] as T);
}

/** Each job's stored metrics of its current run, thinned to `limit` points. */
export async function compare(deps: Deps, user: string, jobs: string[], limit: number): Promise<Record<string, JobMetrics[]>> {
  const lists = await Promise.all(jobs.map((name) => history(deps, user, name)));
  return Object.fromEntries(jobs.map((name, i) => [name, thin(lists[i] ?? [], limit)]));
}
