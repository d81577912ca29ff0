import { Type, type Static } from '@sinclair/typebox';
import type { Bus } from '../bus/port.js';
import type { Deps } from '../wiring/deps.js';
import { Conflict } from '../core/errors.js';
import type { Collection, Doc, New } from '../store/port.js';
import { compile, S } from '../core/validation.js';
import { MAX_BATCH } from './bounds.js';

/** docs/api.md#job-metrics: JobMetrics(user, name, epoch, accuracy, loss, progress). */
export const jobMetricsSchema = S.object({
  user: Type.Optional(S.name()),
  name: Type.Optional(S.name()),
  epoch: Type.Integer({ minimum: 0 }),
  accuracy: Type.Number(),
  loss: Type.Number(),
  progress: Type.Integer({ minimum: -1, maximum: 100 }),
});
export const validateMetrics = compile(jobMetricsSchema);

/** The batch form: 1 to MAX_BATCH JobMetrics in one JSON array. */
export const jobMetricsBatchSchema = Type.Array(jobMetricsSchema, { minItems: 1, maxItems: MAX_BATCH });

/**
 * What POST …/job_metrics/{job} takes: one JobMetrics, or a batch. Written as if/then/else rather
 * than a union so that a refusal names the one problem found (an element's index and field)
 * instead of why the body is neither an object nor an array.
 */
export const publishBodySchema = Type.Unsafe<Static<typeof jobMetricsSchema> | Static<typeof jobMetricsBatchSchema>>({
  description: `One JobMetrics, or a JSON array of 1 to ${MAX_BATCH} of them (per-step logging), published in order.`,
  if: { type: 'array' },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, not a thenable.
  then: jobMetricsBatchSchema,
  else: jobMetricsSchema,
});

export interface JobMetrics {
  user: string;
  name: string;
  epoch: number;
  accuracy: number;
  loss: number;
  progress: number;
}

/** One document per (user, job, epoch) (kind metric), and one per job saying whether it runs (kind run). */
interface MetricsDoc extends Doc {
  kind: 'metric' | 'run';
  user: string;
  name: string;
  job_id: string;
  epoch?: number;
  accuracy?: number;
  loss?: number;
  progress?: number;
  running?: boolean;
}

const col = (deps: Deps): Collection<MetricsDoc> => deps.store.collection<MetricsDoc>('metrics');
const runId = (user: string, name: string) => `run/${user}/${name}`;
const metricId = (user: string, name: string, epoch: number) => `m/${user}/${name}/${epoch}`;

export async function run(deps: Deps, user: string, name: string): Promise<MetricsDoc | null> {
  return col(deps).get(runId(user, name));
}

/** The header of an announcement on the metrics topic: the job's run changed (begin, finish, delete). */
export const RUN_HEADER = 'mlp-run';

/** The metrics topic, ensured once per bus (on Kafka each ensureTopics is an admin connection and a metadata read). */
const ensured = new WeakMap<Bus, Map<string, Promise<void>>>();
function ensureTopic(deps: Deps): Promise<void> {
  const topic = deps.config.metricsTopic;
  let topics = ensured.get(deps.bus);
  if (!topics) ensured.set(deps.bus, (topics = new Map()));
  let done = topics.get(topic);
  if (!done) {
    const all = topics;
    done = deps.bus.ensureTopics([topic]);
    all.set(topic, done);
    done.catch(() => all.delete(topic));
  }
  return done;
}

/**
 * Says on the metrics topic, after the store was changed, that the job's run changed: the relay
 * then reads it again (shared/metrics/runs.ts). Same key as the job's metrics, so it comes in
 * order with them. Never fails the caller: a relay that missed it reads the run again when a
 * metric of an id it does not know comes.
 */
async function announce(deps: Deps, user: string, name: string, change: 'begin' | 'finish' | 'delete'): Promise<void> {
  try {
    await ensureTopic(deps);
    await deps.bus.publish(deps.config.metricsTopic, [{ key: `${user}/${name}`, value: JSON.stringify({ user, name }), headers: { [RUN_HEADER]: change } }]);
  } catch (err) {
    deps.log.warn('a change of a run was not announced to the metrics relay', { key: `${user}/${name}`, change, err: (err as Error).message });
  }
}

/** :begin — the job (this internal id) runs; metrics for it are accepted from now on. */
export async function begin(deps: Deps, user: string, name: string, jobId: string): Promise<void> {
  const c = col(deps);
  try {
    await c.insert({ _id: runId(user, name), kind: 'run', user, name, job_id: jobId, running: true });
  } catch (err) {
    if (!(err instanceof Conflict)) throw err;
    await c.update(runId(user, name), {}, { set: { job_id: jobId, running: true } });
  }
  await announce(deps, user, name, 'begin');
}

/** :finish — the job ended; later metrics are dropped. */
export async function finish(deps: Deps, user: string, name: string): Promise<void> {
  await col(deps).update(runId(user, name), { running: true }, { set: { running: false } });
  await announce(deps, user, name, 'finish');
}

/** :delete — the job and its metrics are gone. */
export async function removeAll(deps: Deps, user: string, name: string): Promise<void> {
  const c = col(deps);
  for (const m of await c.find({ kind: 'metric', user, name })) await c.remove(m._id);
  await c.remove(runId(user, name));
  await announce(deps, user, name, 'delete');
}

/** Stored metrics of the job's current run, in epoch order. */
export async function history(deps: Deps, user: string, name: string): Promise<JobMetrics[]> {
  const r = await run(deps, user, name);
  if (!r) return [];
  const docs = await col(deps).find({ kind: 'metric', user, name, job_id: r.job_id });
  return docs.map((d) => view(d as JobMetrics)).sort((a, b) => a.epoch - b.epoch);
}

/** Keeps one metric per epoch; a repeat (at-least-once delivery) replaces it. */
export async function store(deps: Deps, jobId: string, m: JobMetrics): Promise<void> {
  await storeMany(deps, [{ jobId, m }]);
}

/**
 * Stores many metrics in one write (the store's upsertMany), grouped per job in the order their
 * jobs first come, one document per (job, epoch): of a repeated epoch the last one wins.
 */
export async function storeMany(deps: Deps, metrics: { jobId: string; m: JobMetrics }[]): Promise<void> {
  const jobs = new Map<string, Map<number, New<MetricsDoc>>>();
  for (const { jobId, m } of metrics) {
    const key = `${m.user}/${m.name}`;
    let epochs = jobs.get(key);
    if (!epochs) jobs.set(key, (epochs = new Map()));
    epochs.set(m.epoch, { _id: metricId(m.user, m.name, m.epoch), kind: 'metric', job_id: jobId, ...view(m) });
  }
  await col(deps).upsertMany([...jobs.values()].flatMap((epochs) => [...epochs.values()]));
}

export const view = (m: JobMetrics): JobMetrics => ({ user: m.user, name: m.name, epoch: m.epoch, accuracy: m.accuracy, loss: m.loss, progress: m.progress });
