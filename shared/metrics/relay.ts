import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { Handled, Message, Subscription } from '../bus/port.js';
import { onRevocation } from '../bus/revocations.js';
import type { Deps } from '../wiring/deps.js';
import { deferred, type Deferred } from '../core/deferred.js';
import { isClientError } from '../core/errors.js';
import { FairQueue } from './fair-queue.js';
import { framed, sendFramed, type Framed } from './frames.js';
import { FLUSH_BATCH, FLUSH_MS, MAX_EPOCHS, MAX_SOCKET_BACKLOG_BYTES, MAX_WAITING, MAX_WAITING_PER_JOB, RECHECK_MS } from './bounds.js';
import { Runs } from './runs.js';
import { finish, history, RUN_HEADER, run, storeMany, validateMetrics, type JobMetrics } from './store.js';

interface Client {
  ws: WebSocket;
  user: string;
  jobId: string;
  /** Who opened it: the token is checked again while the socket is open. */
  principal: Principal;
  /** Live metrics that arrived while the history was being sent. */
  queue: JobMetrics[] | undefined;
}

interface Waiting {
  m: JobMetrics;
  jobId: string;
  /** The waits of those who published it (and of a repeat of its epoch it replaced): settled once its batch is stored. */
  settles: Deferred[];
}

export interface Relay {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A socket for (user, job): the stored history in epoch order, then each new metric, while its token stays valid. */
  attach(ws: WebSocket, user: string, name: string, principal: Principal): Promise<void>;
  /** One message from the bus (exposed for tests and the consumer): queued for its turn; `durable` settles once it is stored. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that stores nothing later answers nothing, as any async function
  handle(msg: Message): Promise<void | Handled>;
  /** Checks the tokens of the open sockets again (of one user, or all) and closes those no longer valid. */
  recheck(user?: string): Promise<void>;
  /** Resolves once every queued metric was handled. */
  idle(): Promise<void>;
}

export const RELAY_GROUP = 'mlp-metrics-relay';
/** WebSocket close code for a token no longer valid, or a socket that broke a bound (RFC 6455: policy violation). */
export const CLOSE_POLICY = 1008;

/**
 * The metrics relay (docs/api.md#job-metrics): consumes the metrics topic, stores each metric of a running
 * job (one per epoch), and pushes it to that job's open sockets.
 *
 * What runs is known from memory (shared/metrics/runs.ts): a job is loaded from the store at its
 * first metric, so a restarted relay knows, and read again when :begin, :finish or :delete is
 * announced on this topic, in order with the job's metrics. The consumer checks each metric
 * there, in the bus's order: a metric of a job not running (or of an earlier run) is dropped
 * before it is queued.
 *
 * Fair share: the consumer then queues it by user and job (a repeated epoch replaces the waiting
 * one, each job's backlog is bounded). Metrics leave the queue with users, and each user's jobs,
 * taking turns, in batches of at most FLUSH_BATCH (a smaller one waits FLUSH_MS for more): so one
 * job's flood delays another user's metric by one batch, not by the flood.
 *
 * Store, then push: a batch is one store write (storeMany: grouped per job, one point per epoch),
 * and its metrics go to the sockets only once it is durable, in the batch's order, so a socket
 * never shows a point the history could lose. A failed write is retried, the same batch, until it
 * succeeds; meanwhile the consumer goes on queueing within the bounds. A message counts as
 * handled once its batch is stored (the Bus's awaitDurable): Kafka commits it only then, and on the
 * in-process bus the publisher's publish() — a POST of metrics — answers only then, so neither a
 * restart nor a crash loses an accepted metric. A batch's metrics of a job deleted or begun again
 * since they were queued are not written back.
 *
 * Revocation: every open socket's token is checked again every RECHECK_MS, and at once for a
 * user whose logout or deactivation is announced on the bus; a socket no longer valid is closed
 * with 1008 and the reason.
 */
export function createRelay(deps: Deps, opts: { recheckMs?: number; retryMs?: number; flushMs?: number; batch?: number } = {}): Relay {
  const sockets = new Map<string, Set<Client>>();
  const waiting = new FairQueue<Waiting>(
    { perKey: MAX_WAITING_PER_JOB, total: MAX_WAITING },
    {
      replaced: (old, next) => ({ ...next, settles: [...old.settles, ...next.settles] }),
      // Dropped for a bound, by design (docs/architecture.md): nothing more will come of it.
      dropped: (w) => {
        for (const s of w.settles) s.resolve();
      },
    },
  );
  const subscriptions: Subscription[] = [];
  let ticker: NodeJS.Timeout | undefined;
  let working: Promise<void> | undefined;
  let stopping = false;
  let dropped = 0;
  const log = deps.log.child({ component: 'metrics-relay' });
  const retryMs = opts.retryMs ?? 500;
  const flushMs = opts.flushMs ?? FLUSH_MS;
  const batchSize = opts.batch ?? FLUSH_BATCH;
  const runs = new Runs(async (user, name) => {
    const r = await run(deps, user, name);
    return r ? { jobId: r.job_id, running: r.running === true } : null;
  });

  const close = (client: Client, code: number, reason: string) => {
    // A close reason holds at most 123 bytes.
    if (client.ws.readyState === client.ws.OPEN) client.ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
  };

  /** `out` is made once for all of a job's sockets: one write per socket for a batch of its metrics. */
  const send = (client: Client, out: Framed) => {
    if (client.ws.readyState !== client.ws.OPEN) return;
    if (client.ws.bufferedAmount > MAX_SOCKET_BACKLOG_BYTES) {
      log.warn('closed a socket that reads too slowly', { user: client.user });
      return close(client, CLOSE_POLICY, `the socket reads too slowly: more than ${MAX_SOCKET_BACKLOG_BYTES} bytes unsent`);
    }
    sendFramed(client.ws, out);
  };

  /** A job's metrics of one batch, in order, to its sockets of that run (a socket still sent its history queues them). */
  const push = (key: string, jobId: string, ms: JobMetrics[]) => {
    let out: Framed | undefined;
    for (const client of sockets.get(key) ?? []) {
      if (client.jobId !== jobId) continue;
      if (client.queue) client.queue.push(...ms);
      else send(client, (out ??= framed(ms.map((m) => JSON.stringify(m)))));
    }
  };

  const ends = (m: JobMetrics) => m.progress === 100 || m.progress === -1;

  /** Stores a batch in one write, then pushes it: what the consumer did per metric before the queue. */
  const deliver = async (batch: Waiting[]) => {
    const live = batch.filter(({ m, jobId }) => {
      const r = runs.peek(m.user, m.name);
      return r === undefined || r?.jobId === jobId;
    });
    if (live.length < batch.length) log.debug('dropped metrics of a job deleted or begun again', { dropped: batch.length - live.length });
    await storeMany(deps, live);
    // docs/api.md#job-metrics: a last progress of 100 or −1 also means the job ended. The batch's
    // ended jobs together, once each: 100 jobs ending at once cost one round, not 100.
    const ended = new Map(live.filter(({ m }) => ends(m)).map(({ m }) => [`${m.user}/${m.name}`, m]));
    await Promise.all([...ended.values()].map((m) => finish(deps, m.user, m.name)));
    // Grouped per job and run, each in the batch's order: a socket is written once per batch.
    const jobs = new Map<string, { key: string; jobId: string; ms: JobMetrics[] }>();
    for (const { m, jobId } of live) {
      const key = `${m.user}/${m.name}`;
      if (!sockets.has(key)) continue;
      const group = `${key}\u0000${jobId}`;
      let g = jobs.get(group);
      if (!g) jobs.set(group, (g = { key, jobId, ms: [] }));
      g.ms.push(m);
    }
    for (const { key, jobId, ms } of jobs.values()) push(key, jobId, ms);
    for (const w of batch) for (const s of w.settles) s.resolve();
  };

  const drain = async () => {
    for (let first = true; waiting.size > 0; first = false) {
      // A small batch waits a little for more: one write then carries them all. Only the first:
      // after a write, what came in meanwhile has waited for as long as it took.
      if (first && !stopping && waiting.size < batchSize && flushMs > 0) await new Promise((r) => setTimeout(r, flushMs));
      const batch: Waiting[] = [];
      while (batch.length < batchSize) {
        const next = waiting.shift();
        if (!next) break;
        batch.push(next);
      }
      for (let attempt = 1; ; attempt++) {
        try {
          await deliver(batch);
          break;
        } catch (err) {
          if (stopping && attempt >= 3) {
            log.error('metrics were lost: the store failed while the relay stopped', { metrics: batch.length, err: (err as Error).message });
            for (const w of batch) for (const s of w.settles) s.reject(new Error(`metrics were not stored: ${(err as Error).message}`));
            break;
          }
          log.error('storing metrics failed; retrying', { metrics: batch.length, err: (err as Error).message });
          await new Promise((r) => setTimeout(r, retryMs));
        }
      }
    }
  };

  const work = (): Promise<void> => {
    working ??= drain().finally(() => {
      working = undefined;
      // Something queued after the last shift, before this ran, gets its own turn.
      if (waiting.size > 0) void work();
    });
    return working;
  };

  let checking = false;
  const relay: Relay = {
    async start() {
      stopping = false;
      await deps.bus.ensureTopics([deps.config.metricsTopic]);
      subscriptions.push(await onRevocation(deps.bus, (r) => relay.recheck(r.user), log));
      subscriptions.push(await deps.bus.subscribe({ topic: deps.config.metricsTopic, group: RELAY_GROUP, fromBeginning: true, commit: 'batch', awaitDurable: true }, relay.handle));
      ticker = setInterval(() => {
        // A pass still running (a slow store) is not started again over itself.
        if (checking) return;
        checking = true;
        void relay.recheck().finally(() => (checking = false));
      }, opts.recheckMs ?? RECHECK_MS);
      ticker.unref();
    },
    async stop() {
      stopping = true;
      clearInterval(ticker);
      for (const s of subscriptions.splice(0)) await s.stop();
      // Everything taken from the bus is stored before the relay goes.
      while (working || waiting.size > 0) await work();
      for (const set of sockets.values()) for (const c of set) c.ws.close(1001, 'the relay is stopping');
      sockets.clear();
    },
    async handle(msg) {
      if (msg.headers[RUN_HEADER] !== undefined) {
        const [user = '', name = ''] = msg.key.split('/');
        await runs.reload(user, name);
        return;
      }
      let m: JobMetrics;
      try {
        const parsed = validateMetrics(JSON.parse(msg.value), 'metric');
        const [keyUser = '', keyName = ''] = msg.key.split('/');
        m = { user: parsed.user ?? keyUser, name: parsed.name ?? keyName, epoch: parsed.epoch, accuracy: parsed.accuracy, loss: parsed.loss, progress: parsed.progress };
      } catch (err) {
        // A malformed message would fail forever: drop it (logged) rather than block the partition.
        log.warn('dropped a malformed metric', { key: msg.key, offset: msg.offset, err: (err as Error).message });
        return;
      }
      if (m.epoch >= MAX_EPOCHS) {
        // POST refuses these; a script publishing to Kafka directly gets them dropped.
        log.debug('dropped a metric beyond the epoch bound', { key: msg.key, epoch: m.epoch });
        return;
      }
      const jobId = msg.headers['mlp-job-id'] ?? '';
      // A store that cannot answer fails the message: the bus delivers it again.
      if (!(await runs.accepts(m.user, m.name, jobId))) {
        log.debug('dropped a metric of a job that is not running', { key: `${m.user}/${m.name}`, job_id: jobId });
        return;
      }
      if (ends(m)) runs.ended(m.user, m.name);
      const done = deferred();
      const lost = waiting.push(m.user, `${m.user}/${m.name}`, `${jobId}/${m.epoch}`, { m, jobId, settles: [done] });
      if (lost > 0 && dropped++ % 1000 === 0) {
        log.warn('dropped waiting metrics: a job publishes faster than it is served', { key: msg.key, dropped_so_far: dropped });
      }
      void work();
      return { durable: done.promise };
    },
    async recheck(user) {
      const checks: Promise<void>[] = [];
      for (const set of sockets.values()) {
        for (const client of set) {
          if (user !== undefined && client.user !== user) continue;
          checks.push(
            deps.auth.recheck(client.principal).catch((err: unknown) => {
              if (isClientError(err)) close(client, CLOSE_POLICY, err.message);
              else log.warn("could not check a socket's token; trying again at the next pass", { err: (err as Error).message });
            }),
          );
        }
      }
      await Promise.all(checks);
    },
    async idle() {
      while (working || waiting.size > 0) await work();
    },
    async attach(ws, user, name, principal) {
      const r = await run(deps, user, name);
      const client: Client = { ws, user: principal.kind === 'user' || principal.kind === 'job' ? principal.username : user, jobId: r?.job_id ?? '', principal, queue: [] };
      const key = `${user}/${name}`;
      const set = sockets.get(key) ?? new Set();
      sockets.set(key, set.add(client));
      ws.on('close', () => {
        set.delete(client);
        if (set.size === 0 && sockets.get(key) === set) sockets.delete(key);
      });
      const past = await history(deps, user, name);
      const sent = new Set(past.map((m) => m.epoch));
      const queued = (client.queue ?? []).filter((m) => !sent.has(m.epoch));
      client.queue = undefined;
      if (past.length + queued.length > 0) send(client, framed([...past, ...queued].map((m) => JSON.stringify(m))));
    },
  };
  return relay;
}

const relays = new WeakMap<Deps, Relay>();
/** The process's relay: the consumer and the sockets must live together. */
export function relayOf(deps: Deps): Relay {
  let relay = relays.get(deps);
  if (!relay) relays.set(deps, (relay = createRelay(deps)));
  return relay;
}
