import type { WebSocket } from 'ws';
import type { Message, Subscription } from '../bus/port.js';
import type { Deps } from '../deps.js';
import { finish, history, run, store, validateMetrics, type JobMetrics } from './store.js';

interface Client {
  ws: WebSocket;
  jobId: string;
  /** Live metrics that arrived while the history was being sent. */
  queue: JobMetrics[] | undefined;
}

export interface Relay {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** A socket for (user, job): the stored history in epoch order, then each new metric. */
  attach(ws: WebSocket, user: string, name: string): Promise<void>;
  /** One message from the bus (exposed for tests and the consumer). */
  handle(msg: Message): Promise<void>;
}

export const RELAY_GROUP = 'mlp-metrics-relay';

/**
 * The metrics relay (API.md §6): consumes the metrics topic, stores each metric of a running
 * job (one per epoch), and pushes it to that job's open sockets. What runs is read from the
 * store (:begin/:finish), so a restarted relay knows; offsets are committed only after a
 * metric is stored, so a restart loses nothing accepted.
 */
export function createRelay(deps: Deps): Relay {
  const sockets = new Map<string, Set<Client>>();
  let subscription: Subscription | undefined;
  const log = deps.log.child({ component: 'metrics-relay' });

  const push = (user: string, name: string, jobId: string, m: JobMetrics) => {
    for (const client of sockets.get(`${user}/${name}`) ?? []) {
      if (client.jobId !== jobId) continue;
      if (client.queue) client.queue.push(m);
      else client.ws.send(JSON.stringify(m));
    }
  };

  const relay: Relay = {
    async start() {
      await deps.bus.ensureTopics([deps.config.metricsTopic]);
      subscription = await deps.bus.subscribe({ topic: deps.config.metricsTopic, group: RELAY_GROUP, fromBeginning: true }, relay.handle);
    },
    async stop() {
      const current = subscription;
      subscription = undefined;
      await current?.stop();
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
      const jobId = msg.headers['mlp-job-id'] ?? '';
      const r = await run(deps, m.user, m.name);
      if (!r?.running || r.job_id !== jobId) {
        log.debug('dropped a metric of a job that is not running', { key: msg.key, job_id: jobId });
        return;
      }
      await store(deps, jobId, m);
      // API.md §6: a last progress of 100 or −1 also means the job ended.
      if (m.progress === 100 || m.progress === -1) await finish(deps, m.user, m.name);
      push(m.user, m.name, jobId, m);
    },
    async attach(ws, user, name) {
      const r = await run(deps, user, name);
      const client: Client = { ws, jobId: r?.job_id ?? '', queue: [] };
      const key = `${user}/${name}`;
      const set = sockets.get(key) ?? new Set();
      sockets.set(key, set.add(client));
      ws.on('close', () => {
        set.delete(client);
        if (set.size === 0) sockets.delete(key);
      });
      const past = await history(deps, user, name);
      for (const m of past) ws.send(JSON.stringify(m));
      const sent = new Set(past.map((m) => m.epoch));
      for (const m of client.queue ?? []) if (!sent.has(m.epoch)) ws.send(JSON.stringify(m));
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
