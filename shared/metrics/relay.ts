import type { WebSocket } from 'ws';
import type { Principal } from '../auth/principal.js';
import type { Message, Subscription } from '../bus/port.js';
import { onRevocation } from '../bus/revocations.js';
import type { Deps } from '../deps.js';
import { isClientError } from '../errors.js';
import { FairQueue } from './fair-queue.js';
import { MAX_EPOCHS, MAX_SOCKET_BACKLOG_BYTES, MAX_WAITING, MAX_WAITING_PER_JOB, RECHECK_MS } from './limits.js';
import { finish, history, run, store, validateMetrics, type JobMetrics } from './store.js';

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
}

export interface Relay {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A socket for (user, job): the stored history in epoch order, then each new metric, while its token stays valid. */
  attach(ws: WebSocket, user: string, name: string, principal: Principal): Promise<void>;
  /** One message from the bus (exposed for tests and the consumer): queued for its turn. */
  handle(msg: Message): Promise<void>;
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
 * job (one per epoch), and pushes it to that job's open sockets. What runs is read from the
 * store (:begin/:finish), so a restarted relay knows.
 *
 * Fair share: the consumer only parses a message and queues it by user and job (a repeated
 * epoch replaces the waiting one, each job's backlog is bounded); metrics are then stored with
 * users, and each user's jobs, taking turns, so one job's flood delays another user's metric by
 * one turn, not by the flood. A message is committed once queued: stop() first handles every
 * queued metric, so a restart loses nothing; a crash loses at most what was waiting.
 *
 * Revocation: every open socket's token is checked again every RECHECK_MS, and at once for a
 * user whose logout or deactivation is announced on the bus; a socket no longer valid is closed
 * with 1008 and the reason.
 */
export function createRelay(deps: Deps, opts: { recheckMs?: number; retryMs?: number } = {}): Relay {
  const sockets = new Map<string, Set<Client>>();
  const waiting = new FairQueue<Waiting>({ perKey: MAX_WAITING_PER_JOB, total: MAX_WAITING });
  const subscriptions: Subscription[] = [];
  let ticker: NodeJS.Timeout | undefined;
  let working: Promise<void> | undefined;
  let stopping = false;
  let dropped = 0;
  const log = deps.log.child({ component: 'metrics-relay' });
  const retryMs = opts.retryMs ?? 500;

  const close = (client: Client, code: number, reason: string) => {
    // A close reason holds at most 123 bytes.
    if (client.ws.readyState === client.ws.OPEN) client.ws.close(code, Buffer.from(reason).subarray(0, 123).toString());
  };

  const send = (client: Client, m: JobMetrics) => {
    if (client.ws.readyState !== client.ws.OPEN) return;
    if (client.ws.bufferedAmount > MAX_SOCKET_BACKLOG_BYTES) {
      log.warn('closed a socket that reads too slowly', { user: client.user });
      return close(client, CLOSE_POLICY, `the socket reads too slowly: more than ${MAX_SOCKET_BACKLOG_BYTES} bytes unsent`);
    }
    client.ws.send(JSON.stringify(m));
  };

  const push = (user: string, name: string, jobId: string, m: JobMetrics) => {
    for (const client of sockets.get(`${user}/${name}`) ?? []) {
      if (client.jobId !== jobId) continue;
      if (client.queue) client.queue.push(m);
      else send(client, m);
    }
  };

  /** Stores one metric and pushes it: what the consumer did itself before the queue. */
  const deliver = async ({ m, jobId }: Waiting) => {
    const r = await run(deps, m.user, m.name);
    if (!r?.running || r.job_id !== jobId) {
      log.debug('dropped a metric of a job that is not running', { key: `${m.user}/${m.name}`, job_id: jobId });
      return;
    }
    await store(deps, jobId, m);
    // docs/api.md#job-metrics: a last progress of 100 or −1 also means the job ended.
    if (m.progress === 100 || m.progress === -1) await finish(deps, m.user, m.name);
    push(m.user, m.name, jobId, m);
  };

  const drain = async () => {
    for (let next = waiting.shift(); next; next = waiting.shift()) {
      for (let attempt = 1; ; attempt++) {
        try {
          await deliver(next);
          break;
        } catch (err) {
          if (stopping && attempt >= 3) {
            log.error('a metric was lost: the store failed while the relay stopped', { key: `${next.m.user}/${next.m.name}`, epoch: next.m.epoch, err: (err as Error).message });
            break;
          }
          log.error('storing a metric failed; retrying', { key: `${next.m.user}/${next.m.name}`, err: (err as Error).message });
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
      subscriptions.push(await deps.bus.subscribe({ topic: deps.config.metricsTopic, group: RELAY_GROUP, fromBeginning: true }, relay.handle));
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
      const lost = waiting.push(m.user, `${m.user}/${m.name}`, `${jobId}/${m.epoch}`, { m, jobId });
      if (lost > 0 && dropped++ % 1000 === 0) {
        log.warn('dropped waiting metrics: a job publishes faster than it is served', { key: msg.key, dropped_so_far: dropped });
      }
      void work();
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
      for (const m of past) ws.send(JSON.stringify(m));
      const sent = new Set(past.map((m) => m.epoch));
      for (const m of client.queue ?? []) if (!sent.has(m.epoch)) send(client, m);
      client.queue = undefined;
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
