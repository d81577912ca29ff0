import { MAX_RUNS_KNOWN, RELOAD_MS } from './bounds.js';

/** What the relay needs of a job's run record (shared/metrics/store.ts, kind run). */
export interface Run {
  jobId: string;
  running: boolean;
}

/**
 * The runs the metrics relay knows, kept in memory so that a metric is checked without a read:
 * a job is loaded from the store the first time one of its metrics comes (so a restarted relay
 * knows what runs), and again when :begin, :finish or :delete is announced on the metrics topic
 * (shared/metrics/store.ts) — the store stays the truth, an announcement only says "look again",
 * as revocations do (shared/bus/revocations.ts). A metric of a job id not known is also a reason
 * to look again (an announcement that was lost), and so is a metric of a run known ended (a lost
 * :begin of the same id), each at most once per RELOAD_MS per job: a late script of an earlier
 * run costs one read a second, not one per metric.
 */
export class Runs {
  private readonly known = new Map<string, { run: Run | null; at: number }>();

  constructor(
    private readonly load: (user: string, name: string) => Promise<Run | null>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a metric of this job id is taken: the job runs with this id. May read the store. */
  async accepts(user: string, name: string, jobId: string): Promise<boolean> {
    const entry = this.known.get(`${user}/${name}`);
    let run = entry?.run;
    if (!entry || ((run?.jobId !== jobId || !run.running) && this.now() - entry.at >= RELOAD_MS)) run = await this.reload(user, name);
    return run?.running === true && run.jobId === jobId;
  }

  /** Reads the job's run from the store again. */
  async reload(user: string, name: string): Promise<Run | null> {
    const run = await this.load(user, name);
    this.remember(`${user}/${name}`, run);
    return run;
  }

  /** The run as known, without a read: undefined when not known, null when the job has none. */
  peek(user: string, name: string): Run | null | undefined {
    return this.known.get(`${user}/${name}`)?.run;
  }

  /** A last progress of 100 or −1 (docs/api.md#job-metrics): later metrics of the run are dropped. */
  ended(user: string, name: string): void {
    const entry = this.known.get(`${user}/${name}`);
    if (entry?.run) entry.run = { ...entry.run, running: false };
  }

  private remember(key: string, run: Run | null): void {
    this.known.delete(key);
    this.known.set(key, { run, at: this.now() });
    // Bounded: the run loaded longest ago is forgotten (and loaded again if a metric of it comes).
    if (this.known.size > MAX_RUNS_KNOWN) this.known.delete(this.known.keys().next().value as string);
  }
}
