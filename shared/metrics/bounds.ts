// Bounds on what one job or one user can make the metrics path hold (docs/security.md, floods).

/** Epochs 0 … MAX_EPOCHS − 1. One metric is kept per epoch, so a job stores at most this many. */
export const MAX_EPOCHS = 10_000;

/** The batch form of POST …/job_metrics/{job}: a JSON array of 1 to this many JobMetrics. */
export const MAX_BATCH = 1000;

/**
 * POST …/job_metrics/{job}, per job: a burst of this many requests, then this many per second
 * (token bucket). A request takes one token whether it holds one metric or a batch, so per-step
 * logging through the helpers (a POST of up to MAX_BATCH every half second) is never refused;
 * what reaches the relay is bounded by its per-job queue, and what a job stores by MAX_EPOCHS.
 */
export const PUBLISH_LIMIT = { burst: 200, perSecond: 50 };

/**
 * The relay's waiting metrics: per job, and in all. Past a job's bound its oldest waiting metric
 * is dropped; past the whole bound, the oldest of the user with the most waiting.
 */
export const MAX_WAITING_PER_JOB = 1000;
export const MAX_WAITING = 50_000;

/** Every open socket's token is checked again this often (and at once on a logout or deactivation). */
export const RECHECK_MS = 2000;

/** A socket with more than this much still unsent reads too slowly: it is cut off rather than buffered for. */
export const MAX_SOCKET_BACKLOG_BYTES = 4 * 1024 * 1024;

/**
 * The relay stores metrics in batches of at most this many (one store write per batch), taken
 * from the waiting ones in their fair order; a batch smaller than this waits FLUSH_MS for more
 * first. A batch being written is held outside the waiting bound, so the relay holds at most
 * MAX_WAITING + FLUSH_BATCH metrics.
 */
export const FLUSH_BATCH = 500;
export const FLUSH_MS = 5;

/** Runs the relay keeps in memory (shared/metrics/runs.ts), and how often at most it reads one again for a metric of an unknown job id. */
export const MAX_RUNS_KNOWN = 100_000;
export const RELOAD_MS = 1000;
