import { Conflict, Forbidden } from '../core/errors.js';
import { keyedBatches } from '../core/keyed-batches.js';
import type { Logger } from '../core/log.js';
import type { Collection, Doc, Store } from '../store/port.js';
import { toApi, ZERO, type Amounts } from './amounts.js';
import {
  decideCancel,
  decideConfirm,
  decideTry,
  decidedIds,
  expireTries,
  isTerminal,
  MAX_PENDING_REQUESTS,
  withoutEntries,
  type Applier,
  type Entry,
  type Ledger,
  type Outcome,
  type TryInput,
} from './ledger.js';

export interface TenantDoc extends Doc, Ledger {
  name: string;
}

/** A request once decided for good, kept after it leaves the tenant's ledger (resource_request, _id = id). */
export interface ArchivedRequest extends Doc {
  id: string;
  tenant: string;
  entry: Entry;
  /** When the reconciler may drop it (ISO); absent on records archived before it existed. */
  expires_at?: string;
}

export interface ResourceManager {
  /** Creates the tenant, or sets its capacity from configuration keeping what is in use. */
  ensureTenant(name: string, capacity: Amounts): Promise<TenantDoc>;
  getTenant(name: string): Promise<TenantDoc | null>;
  /** Where a request stands: in a tenant's ledger (undecided, or decided and not yet archived), else in the archive. */
  lookup(id: string): Promise<{ tenant: string; entry: Entry } | undefined>;
  try(req: TryInput & { tenant: string }): Promise<void>;
  confirm(id: string, applier: Applier): Promise<void>;
  cancel(id: string, applier: Applier): Promise<void>;
  /** One idempotent pass: expire old tries, archive what a crash left decided in a ledger, forget old archived requests. */
  reconcile(): Promise<{ expired: string[]; archived: number; collected: number }>;
}

/** One caller's decision on a request of a tenant, made on the ledger as it stands when its turn comes. */
interface Decision {
  id: string;
  decide: (l: Ledger, known: Entry | undefined) => Outcome;
}

export interface ResourceManagerOptions {
  now: () => Date;
  log: Logger;
  timeoutMs: number;
  /** How long tombstones and cancelled requests are kept in the archive (docs/api.md#resources: at least 24 h). */
  tombstoneMs?: number;
  /** How long confirmed requests are kept in the archive. */
  confirmedMs?: number;
  /** The most requests one tenant's ledger holds (MAX_PENDING_REQUESTS). */
  maxPending?: number;
}

/** Tenants of requests tried here, remembered for their confirm or cancel (a hint, emptied past this). */
const MAX_HINTS = 100_000;

/** Archived requests dropped per reconciler pass, so one pass stays short however many are due. */
const COLLECT_BATCH = 1000;

/**
 * The Resource-manager. Every decision is one compare-and-set on the tenant's document. A
 * request leaves that document as soon as it is decided: the manager inserts it into the
 * archive (_id = request id, so inserting again is harmless), then removes it from the ledger by
 * a second compare-and-set; the reconciler finishes both steps after a crash between them. So
 * the document holds the undecided requests (at most maxPending) plus, briefly, those being
 * archived. Lookups read the ledger first and the archive after: a request leaves the ledger only
 * once it is archived, so that order never misses it, and a decision on an archived request
 * never changes the ledger (idempotent repeats, late tries, confirm after cancel are refused or no-ops).
 */
export function resourceManager(store: Store, opts: ResourceManagerOptions): ResourceManager {
  const tenants: Collection<TenantDoc> = store.collection<TenantDoc>('tenant');
  const archive: Collection<ArchivedRequest> = store.collection<ArchivedRequest>('resource_request');
  const tombstoneMs = opts.tombstoneMs ?? 24 * 3600_000;
  const confirmedMs = opts.confirmedMs ?? 7 * 24 * 3600_000;
  const maxPending = opts.maxPending ?? MAX_PENDING_REQUESTS;
  const now = () => opts.now().getTime();
  const expiresAt = (e: Entry) => e.decided + (e.state === 'cancelled' ? tombstoneMs : confirmedMs);

  /**
   * Decisions on one tenant go in batches (a group commit): the callers that arrive while one
   * batch is written wait and go together in the next, which reads the tenant once, applies their
   * decisions in arrival order, each on the ledger the one before left, and writes once by
   * compare-and-set on its version; a lost race decides the whole batch again on a fresh read.
   * Each caller gets its own decision: a refusal reaches only its caller. Against other
   * processes, the compare-and-set decides, as for one decision.
   */
  const mutate = keyedBatches<Decision, void>((name, batch) => decideBatch(name, batch));

  async function decideBatch(name: string, batch: Decision[]): Promise<PromiseSettledResult<void>[]> {
    for (;;) {
      const tenant = await tenants.get(name);
      if (!tenant) return batch.map(() => ({ status: 'rejected', reason: new Forbidden(`tenant ${name} not found`) }));
      const outside = [...new Set(batch.map((d) => d.id).filter((id) => !tenant.requests[id]))];
      const archived = new Map((outside.length ? await archive.find({ _id: { $in: outside } }) : []).map((a) => [a._id, a.entry]));
      let ledger: Ledger = tenant;
      let changed = false;
      /** Decided before, but a crash or a fault kept them from the archive: finished now. */
      const stranded = new Set<string>();
      const outcomes = batch.map(({ id, decide }): PromiseSettledResult<void> => {
        const inLedger = ledger.requests[id];
        const out = decide(ledger, inLedger ?? archived.get(id));
        if (out.ledger) {
          ledger = out.ledger;
          changed = true;
        } else if (inLedger && isTerminal(inLedger)) stranded.add(id);
        return out.refuse ? { status: 'rejected', reason: new Forbidden(out.refuse.msg, { code: out.refuse.code }) } : { status: 'fulfilled', value: undefined };
      });
      let doc: TenantDoc = tenant;
      if (changed) {
        const written = await tenants.update(name, { version: tenant.version }, { set: { inuse: ledger.inuse, requests: ledger.requests } });
        if (!written) continue;
        doc = written;
      }
      const decided = [...new Set(batch.map((d) => d.id))].filter((id) => {
        const entry = doc.requests[id];
        return stranded.has(id) || (changed && entry !== undefined && isTerminal(entry));
      });
      if (decided.length) await moveOut(doc, decided);
      return outcomes;
    }
  }

  /**
   * Archives then prunes, after the decision is stored: a fault here does not undo the decision,
   * so it is logged and the decision answered; the next call on the id or the reconciler finishes.
   */
  async function moveOut(doc: TenantDoc, ids: string[]): Promise<void> {
    try {
      await archiveAndPrune(doc, ids);
    } catch (err) {
      opts.log.warn('decided resource requests not archived yet; the reconciler will finish', { tenant: doc.name, ids, err: (err as Error).message });
    }
  }

  /** Archives decided requests of the ledger (idempotent), then removes them from it by compare-and-set; returns how many it removed. */
  async function archiveAndPrune(doc: TenantDoc, ids: string[]): Promise<number> {
    const archived = new Map<string, Entry>();
    for (const id of ids) {
      const entry = doc.requests[id];
      if (!entry || !isTerminal(entry)) continue;
      try {
        await archive.insert({ _id: id, id, tenant: doc.name, entry, expires_at: new Date(expiresAt(entry)).toISOString() });
      } catch (err) {
        // Archived by an earlier attempt. Ids are global to the manager (confirm and cancel name
        // no tenant), so whatever is archived under the id is what lookups answer with.
        if (!(err instanceof Conflict)) throw err;
      }
      archived.set(id, entry);
    }
    let cur: TenantDoc | null = doc;
    for (;;) {
      // A decided entry never changes, so one still in the ledger is the one just archived.
      const gone = [...archived].filter(([id, e]) => cur?.requests[id]?.decided === e.decided && isTerminal(cur.requests[id] as Entry)).map(([id]) => id);
      if (gone.length === 0) return 0;
      if (await tenants.update(cur.name, { version: cur.version }, { set: { requests: withoutEntries(cur, gone).requests } })) return gone.length;
      cur = await tenants.get(doc.name);
      if (!cur) return 0;
    }
  }

  /**
   * The tenant of each request tried through this manager, so its confirm or cancel needs no
   * search of every tenant: a request's tenant never changes, and the decision itself still
   * reads the ledger and the archive. A hint only, so it is simply emptied past its bound.
   */
  const triedHere = new Map<string, string>();
  function remember(id: string, tenant: string): void {
    if (triedHere.size >= MAX_HINTS) triedHere.clear();
    triedHere.set(id, tenant);
  }

  async function lookup(id: string): Promise<{ tenant: string; entry: Entry } | undefined> {
    for (const t of await tenants.find()) {
      const entry = t.requests[id];
      if (entry) return { tenant: t.name, entry };
    }
    const archived = await archive.get(id);
    return archived ? { tenant: archived.tenant, entry: archived.entry } : undefined;
  }

  /** Drops archived requests past their keeping time (tombstones: tombstoneMs after the cancel), a batch per pass. */
  async function collect(): Promise<number> {
    const t = now();
    let collected = 0;
    for (const old of await archive.find({ expires_at: { $lt: new Date(t).toISOString() } }, { limit: COLLECT_BATCH })) {
      if (await archive.remove(old._id, { version: old.version })) collected += 1;
    }
    // Records archived before expires_at existed: dropped when due, else given their time.
    for (const old of await archive.find({ expires_at: { $exists: false } }, { limit: COLLECT_BATCH })) {
      const due = expiresAt(old.entry);
      if (due > t) await archive.update(old._id, { version: old.version }, { set: { expires_at: new Date(due).toISOString() } });
      else if (await archive.remove(old._id, { version: old.version })) collected += 1;
    }
    return collected;
  }

  return {
    async ensureTenant(name, capacity) {
      for (;;) {
        const cur = await tenants.get(name);
        if (!cur) {
          try {
            return await tenants.insert({ _id: name, name, capacity, inuse: ZERO, requests: {} });
          } catch (err) {
            if (err instanceof Conflict) continue; // another instance created it first
            throw err;
          }
        }
        const same = JSON.stringify(cur.capacity) === JSON.stringify(capacity);
        if (same) return cur;
        const updated = await tenants.update(name, { version: cur.version }, { set: { capacity } });
        if (updated) {
          opts.log.info('tenant capacity changed from configuration', { tenant: name, capacity: toApi(capacity), inuse: toApi(updated.inuse) });
          return updated;
        }
      }
    },
    getTenant: (name) => tenants.get(name),
    lookup,
    async try(req) {
      await mutate(req.tenant, { id: req.id, decide: (l, known) => decideTry(l, req, known, now(), maxPending) });
      remember(req.id, req.tenant);
    },
    async confirm(id, applier) {
      const tenant = triedHere.get(id) ?? (await lookup(id))?.tenant;
      if (!tenant) return; // unknown id: 200, nothing to do
      await mutate(tenant, { id, decide: (l, known) => decideConfirm(l, id, applier, known, now()) });
      triedHere.delete(id);
    },
    async cancel(id, applier) {
      const tenant = triedHere.get(id) ?? (await lookup(id))?.tenant;
      if (tenant) {
        await mutate(tenant, { id, decide: (l, known) => decideCancel(l, id, applier, known, now()) });
        triedHere.delete(id);
        return;
      }
      // Unknown id: a tombstone in every tenant, so a late try anywhere is refused.
      for (const t of await tenants.find()) await mutate(t.name, { id, decide: (l, known) => decideCancel(l, id, applier, known, now()) });
    },
    async reconcile() {
      const expired: string[] = [];
      let archived = 0;
      for (const t of await tenants.find()) {
        for (;;) {
          const cur = await tenants.get(t.name);
          if (!cur) break;
          const out = expireTries(cur, now(), opts.timeoutMs);
          if (!out.ledger) break;
          if (await tenants.update(t.name, { version: cur.version }, { set: { inuse: out.ledger.inuse, requests: out.ledger.requests } })) {
            expired.push(...out.expired);
            opts.log.warn('cancelled resource tries that were not confirmed in time', { tenant: t.name, ids: out.expired });
            break;
          }
        }
        // The expired tries, and whatever a crash left decided in the ledger.
        const fresh = await tenants.get(t.name);
        if (fresh) archived += await archiveAndPrune(fresh, decidedIds(fresh));
      }
      return { expired, archived, collected: await collect() };
    },
  };
}
