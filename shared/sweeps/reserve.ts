import type { Deps } from '../wiring/deps.js';
import { sweepId, sweepsCollection } from '../records/sweeps.js';
import { trialLetters } from './trials.js';

/** The trial number letters stand for (a → 1, aa → 27), or null when they cannot be trial letters. */
export function trialNumber(letters: string): number | null {
  if (!/^[a-z]{1,3}$/.test(letters)) return null;
  let n = 0;
  for (const c of letters) n = n * 26 + (c.charCodeAt(0) - 96);
  return n;
}

/**
 * The sweep of `user` that reserved job name `name` (docs/api.md#experiments: creating a sweep
 * reserves all its trial names), or null. A trial name is a sweep's name and 1–3 letters, so at
 * most three sweeps are read.
 */
export async function reservingSweep(deps: Deps, user: string, name: string): Promise<string | null> {
  const col = sweepsCollection(deps.store);
  for (let cut = Math.max(1, name.length - 3); cut < name.length; cut++) {
    const n = trialNumber(name.slice(cut));
    if (n === null) continue;
    const sweep = await col.get(sweepId(user, name.slice(0, cut)));
    if (sweep && n <= sweep.trials) return sweep.name;
  }
  return null;
}

/**
 * Whether two sweeps' trial names meet (sweep `a` of `na` trials, `b` of `nb`): one name extends
 * the other by letters x, and x followed by a trial's letters of the longer is a trial of the shorter.
 */
export function trialsOverlap(a: string, na: number, b: string, nb: number): boolean {
  if (a.length > b.length) return trialsOverlap(b, nb, a, na);
  if (!b.startsWith(a)) return false;
  const x = b.slice(a.length);
  if (x === '') return true;
  if (x.length > 2) return false; // x plus at least one letter would pass three letters
  for (let j = 1; j <= nb; j++) {
    const letters = x + trialLetters(j);
    if (letters.length > 3) break;
    const i = trialNumber(letters);
    if (i !== null && i <= na) return true;
  }
  return false;
}
