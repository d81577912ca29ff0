import { randomInt } from 'node:crypto';
import type { Deps } from '../wiring/deps.js';
import { Conflict, Forbidden } from '../core/errors.js';
import { checkEntryFile } from '../jobs/entry-file.js';
import { checkObjectCap } from '../records/object-cap.js';
import { jobsCollection } from '../records/jobs.js';
import { sweepId, sweepsCollection, type SweepDoc } from '../records/sweeps.js';
import type { Runtime } from '../runtimes/catalog.js';
import { describe, exceeding, toExact } from '../tcc/amounts.js';
import { trialsOverlap } from './reserve.js';
import { planPoints, seeded, strategyOf, validSpace, type Strategy } from './space.js';
import { defaultGoal, trialNames, type Goal, type Metric } from './trials.js';

/** POST …/sweeps as the route's schema let it through (docs/api.md#experiments). */
export interface SweepSpec {
  name: string;
  entry: string;
  space: unknown;
  metric: Metric;
  goal?: Goal;
  strategy?: Strategy;
  trials?: number;
  parallel?: number;
  early_stop?: boolean;
  retries?: number;
  runtime?: string;
  cpu?: number;
  gpu?: number;
  ram?: number;
  tenant?: string;
}

/**
 * Creates a running sweep: its points drawn once (random ones from a seed, kept with them), its
 * trial names reserved — refused if a job or another sweep's trial holds one. The sweep reconciler
 * (shared/sweeps/reconcile.ts) then creates its trial jobs, `parallel` at a time.
 */
export async function createSweep(deps: Deps, user: string, spec: SweepSpec, opts: { seed?: number } = {}): Promise<SweepDoc> {
  const space = validSpace(spec.space);
  const strategy = strategyOf(space, spec.strategy);
  const points = planPoints(space, strategy, spec.trials, seeded(opts.seed ?? randomInt(2 ** 31)));
  const runtime = spec.runtime ?? 'tf';
  if (!(deps.config.runtimes as string[]).includes(runtime)) throw new Forbidden(`runtime ${runtime} is not offered here; this installation offers ${deps.config.runtimes.join(', ')}`);
  await checkEntryFile(deps, user, runtime as Runtime, spec.entry);
  const tenant = spec.tenant ?? 'default';
  const amounts = { gpu: spec.gpu ?? 0, cpu: spec.cpu ?? 1, ram: spec.ram ?? 1000 };
  const t = await deps.resources.getTenant(tenant);
  if (!t) throw new Forbidden(`tenant ${tenant} not found`);
  const never = exceeding(toExact(amounts), t.capacity);
  if (never.length > 0) throw new Forbidden(`a trial can never fit the tenant: needs ${describe(toExact(amounts), never)}; capacity ${describe(t.capacity, never)}`);
  const col = sweepsCollection(deps.store);
  await checkObjectCap(deps, col, user, 'sweeps');
  const id = sweepId(user, spec.name);
  try {
    await col.insert({
      _id: id,
      name: spec.name,
      user,
      tenant,
      entry: spec.entry,
      runtime: runtime as Runtime,
      ...amounts,
      space,
      strategy,
      trials: points.length,
      parallel: spec.parallel ?? 4,
      metric: spec.metric,
      goal: spec.goal ?? defaultGoal(spec.metric),
      early_stop: spec.early_stop ?? false,
      retries: spec.retries ?? 0,
      state: 'running',
      progress: 0,
      best: null,
      points,
      launched: 0,
      results: points.map(() => ({ state: 'pending', value: null, epoch: null })),
    });
  } catch (err) {
    if (err instanceof Conflict) throw new Conflict(`sweep ${spec.name} already exists`);
    throw err;
  }
  // After the insert, so a job created meanwhile with one of the names is seen here or sees the sweep.
  const names = trialNames(spec.name, points.length);
  const taken = await jobsCollection(deps.store).find({ user, name: { $in: names } }, { limit: 1 });
  const meets = (await col.find({ user })).find((o) => o.name !== spec.name && trialsOverlap(spec.name, points.length, o.name, o.trials));
  if (taken[0] || meets) {
    await col.remove(id, { launched: 0 });
    if (meets) throw new Forbidden(`sweep ${spec.name}'s trial names meet those of sweep ${meets.name}; choose another name`);
    throw new Forbidden(`sweep ${spec.name} would name a trial ${taken[0]?.name}, and you have a job of that name; delete it or choose another sweep name`);
  }
  const created = await col.get(id);
  if (!created) throw new Conflict(`sweep ${spec.name} was deleted while it was being created`);
  return created;
}
