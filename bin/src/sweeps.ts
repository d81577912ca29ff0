import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parse } from 'yaml';
import type { Api } from './api.js';

// docs/api.md#experiments from the command line: `mlp sweep create|ls|show|stop|rm`.
interface Sweep {
  name: string;
  entry: string;
  strategy: string;
  trials: number;
  parallel: number;
  metric: string;
  goal: string;
  state: string;
  progress: number;
  best: { job: string; params: Record<string, unknown>; value: number; epoch: number } | null;
  msg?: string;
}

interface Trial {
  job: string;
  params: Record<string, unknown>;
  state: string;
  value: number | null;
  epoch: number | null;
}

export interface CreateOptions {
  file?: string;
  entry?: string;
  space?: string;
  metric?: string;
  goal?: string;
  strategy?: string;
  trials?: number;
  parallel?: number;
  earlyStop?: boolean;
  retries?: number;
  runtime?: string;
  cpu?: number;
  gpu?: number;
  ram?: number;
}

/**
 * The body of POST …/sweeps: a YAML or JSON file (YAML is a superset of JSON, so one parser reads
 * both), with each flag given overriding the file's field of that name.
 */
export async function createBody(name: string, opts: CreateOptions): Promise<Record<string, unknown>> {
  const file = opts.file ? (parse(await readFile(opts.file, 'utf8')) as unknown) : {};
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new Error(`${opts.file} must hold a mapping of the sweep's fields`);
  let space: unknown;
  if (opts.space !== undefined) {
    try {
      space = JSON.parse(opts.space);
    } catch (err) {
      throw new Error(`--space must be JSON, e.g. '{"lr":[0.1,0.01]}': ${(err as Error).message}`);
    }
  }
  const flags: Record<string, unknown> = {
    entry: opts.entry,
    space,
    metric: opts.metric,
    goal: opts.goal,
    strategy: opts.strategy,
    trials: opts.trials,
    parallel: opts.parallel,
    early_stop: opts.earlyStop,
    retries: opts.retries,
    runtime: opts.runtime,
    cpu: opts.cpu,
    gpu: opts.gpu,
    ram: opts.ram,
  };
  const body: Record<string, unknown> = { ...(file as Record<string, unknown>), name };
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) body[k] = v;
  return body;
}

const point = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
const value = (v: number | null) => (v === null ? '-' : Number(v.toPrecision(6)).toString());

export const sweepLine = (s: Sweep): string =>
  `${s.name.padEnd(20)} ${s.state.padEnd(9)} ${String(s.progress).padStart(3)}%  ${s.strategy} ${s.trials} trials, ${s.parallel} at once  ${s.metric} ${s.goal}  best ${
    s.best ? `${value(s.best.value)} (${s.best.job})` : '-'
  }${s.msg ? `  (${s.msg})` : ''}`;

/** The sweep's line, then its trials as a table; the best trial is marked with `*`. */
export function table(s: Sweep, trials: Trial[]): string[] {
  const rows = trials.map((x) => [x.job === s.best?.job ? '*' : ' ', x.job, x.state, value(x.value), x.epoch === null ? '-' : String(x.epoch), point(x.params)]);
  const head = [' ', 'TRIAL', 'STATE', s.metric.toUpperCase(), 'EPOCH', 'PARAMS'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  return [sweepLine(s), fmt(head), ...rows.map(fmt)];
}

export async function create(client: Api, user: string, name: string, opts: CreateOptions, print: (l: string) => void): Promise<void> {
  print(sweepLine(await client.json<Sweep>('POST', `/api/v1/users/${user}/sweeps`, await createBody(name, opts))));
}

export async function list(client: Api, user: string, print: (l: string) => void): Promise<void> {
  const all = await client.json<Sweep[]>('GET', `/api/v1/users/${user}/sweeps`);
  if (all.length === 0) print('no sweeps');
  for (const s of all) print(sweepLine(s));
}

/** Prints the trials table; with follow, again every `intervalMs` while the sweep runs. */
export async function show(client: Api, user: string, name: string, opts: { follow?: boolean; intervalMs?: number }, print: (l: string) => void): Promise<void> {
  for (;;) {
    const s = await client.json<Sweep>('GET', `/api/v1/users/${user}/sweeps/${name}`);
    const trials = await client.json<Trial[]>('GET', `/api/v1/users/${user}/sweeps/${name}/trials`);
    for (const l of table(s, trials)) print(l);
    if (!opts.follow || s.state !== 'running') return;
    print('');
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 2000));
  }
}

export async function stop(client: Api, user: string, name: string, print: (l: string) => void): Promise<void> {
  print(sweepLine(await client.json<Sweep>('PUT', `/api/v1/users/${user}/sweeps/${name}:stop`, {})));
}

export async function remove(client: Api, user: string, name: string, print: (l: string) => void): Promise<void> {
  print(sweepLine(await client.json<Sweep>('DELETE', `/api/v1/users/${user}/sweeps/${name}`)));
}

/** `mlp sweep …`, on the client's session (bin/src/main.ts). */
export function registerSweep(program: Command, session: () => Promise<{ config: { user: string }; client: Api }>, print: (l: string) => void, number: (what: string) => (v: string) => number): void {
  const sweep = program.command('sweep').description('hyperparameter sweeps: create, ls, show, stop, rm');
  sweep
    .command('create <name>')
    .description('start a sweep: its trials are jobs named <name>a, <name>b, …, each given its point as MLP_PARAMS (mlp.params())')
    .option('--file <path>', "the sweep's fields in YAML or JSON (entry, space, metric, …); flags override them")
    .option('--entry <path>', 'script path inside your home')
    .option('--space <json>', 'the parameters, e.g. \'{"lr":[0.1,0.01],"units":{"min":8,"max":64,"int":true}}\'')
    .option('--metric <name>', 'accuracy or loss')
    .option('--goal <goal>', 'max or min (default: max for accuracy, min for loss)')
    .option('--strategy <s>', 'grid (every combination) or random')
    .option('--trials <n>', 'number of random points (1–1000)', number('--trials'))
    .option('--parallel <n>', 'trials waiting or running at once (1–100, default 4)', number('--parallel'))
    .option('--early-stop', 'stop trials worse than the median of the others (from epoch 3)')
    .option('--retries <n>', 'launch a failed trial again this many times (0–10)', number('--retries'))
    .option('--runtime <name>', 'tf or torch; default tf')
    .option('--cpu <cores>', 'cpu cores per trial (0.1–10, default 1)', number('--cpu'))
    .option('--gpu <count>', 'GPUs per trial (0–16, default 0)', number('--gpu'))
    .option('--ram <mi>', 'memory per trial in Mi (100–10000, default 1000)', number('--ram'))
    .action(async (name: string, opts: CreateOptions) => {
      const { config, client } = await session();
      await create(client, config.user, name, opts, print);
    });
  sweep
    .command('ls')
    .description('list your sweeps')
    .action(async () => {
      const { config, client } = await session();
      await list(client, config.user, print);
    });
  sweep
    .command('show <name>')
    .description('print the trials, the best marked *')
    .option('--follow', 'print again every 2 s until the sweep ends')
    .action(async (name: string, opts: { follow?: boolean }) => {
      const { config, client } = await session();
      await show(client, config.user, name, opts, print);
    });
  sweep
    .command('stop <name>')
    .description('start no more trials; stop the waiting and running ones')
    .action(async (name: string) => {
      const { config, client } = await session();
      await stop(client, config.user, name, print);
    });
  sweep
    .command('rm <name>')
    .description('delete a sweep with no trial waiting or running, and its trial jobs')
    .action(async (name: string) => {
      const { config, client } = await session();
      await remove(client, config.user, name, print);
    });
}
