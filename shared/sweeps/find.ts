import type { Deps } from '../wiring/deps.js';
import { NotFound } from '../core/errors.js';
import { sweepId, sweepsCollection, type SweepDoc } from '../records/sweeps.js';
import { trialName, type TrialView } from './trials.js';

export async function sweepOrNotFound(deps: Deps, user: string, name: string): Promise<SweepDoc> {
  const doc = await sweepsCollection(deps.store).get(sweepId(user, name));
  if (!doc) throw new NotFound(`sweep ${name} not found`);
  return doc;
}

/** GET …/sweeps/{sweep}/trials: every trial in trial order, those not started yet `pending`. */
export function trialsView(s: SweepDoc): TrialView[] {
  return s.points.map((params, i) => {
    const r = s.results[i];
    return { job: trialName(s.name, i + 1), params, state: r?.state ?? 'pending', value: r?.value ?? null, epoch: r?.epoch ?? null };
  });
}
