import { Conflict, Forbidden } from '../core/errors.js';
import { keyedMutex } from '../core/keyed-mutex.js';
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

export interface TenantView {
  name: string;
  cpu: number;
  gpu: number;
  ram: number;
  rom: number;
  cpu_inuse: number;
  gpu_inuse: number;
  ram_inuse: number;
  rom_inuse: number;
  created_at: string;
  updated_at: string;
}

export function tenantView(t: TenantDoc): TenantView {
  const cap = toApi(t.capacity);
  const use = toApi(t.inuse);
  return {
    name: t.name,
    ...cap,
    cpu_inuse: use.cpu,
    gpu_inuse: use.gpu,
    ram_inuse: use.ram,
    rom_inuse: use.rom,
    created_at: t.created_at,
    updated_at: t.updated_at,
  };
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
  const oneAtATime = keyedMutex();

  /**
   * Decides on the tenant as read, then writes with compare-and-set on its version; a lost
   * race decides again. Decisions of this process take turns per tenant, so its concurrent
   * callers do not lose races to each other and read again; against other processes, the
   * compare-and-set decides.
   */
  function mutate(name: string, id: string, decide: (l: Ledger, known: Entry | undefined) => Outcome): Promise<void> {
    return oneAtATime(name, () => decideAndWrite(name, id, decide));
  }

  async function decideAndWrite(name: string, id: string, decide: (l: Ledger, known: Entry | undefined) => Outcome): Promise<void> {
    for (;;) {
      const tenant = await tenants.get(name);
      if (!tenant) throw new Forbidden(`tenant ${name} not found`);
      const inLedger = tenant.requests[id];
      const known = inLedger ?? (await archive.get(id))?.entry;
      const out = decide(tenant, known);
      if (!out.ledger) {
        // Decided before, but a crash or a fault kept it from the archive: finish that now.
        if (inLedger && isTerminal(inLedger)) await moveOut(tenant, [id]);
        if (out.refuse) throw new Forbidden(out.refuse.msg, { code: out.refuse.code });
        return;
      }
      const written = await tenants.update(name, { version: tenant.version }, { set: { inuse: out.ledger.inuse, requests: out.ledger.requests } });
      if (!written) continue;
      const entry = written.requests[id];
      if (entry && isTerminal(entry)) await moveOut(written, [id]);
      return;
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
      await mutate(req.tenant, req.id, (l, known) => decideTry(l, req, known, now(), maxPending));
    },
    async confirm(id, applier) {
      const found = await lookup(id);
      if (!found) return; // unknown id: 200, nothing to do
      await mutate(found.tenant, id, (l, known) => decideConfirm(l, id, applier, known, now()));
    },
    async cancel(id, applier) {
      const found = await lookup(id);
      if (found) return mutate(found.tenant, id, (l, known) => decideCancel(l, id, applier, known, now()));
      // Unknown id: a tombstone in every tenant, so a late try anywhere is refused.
      for (const t of await tenants.find()) await mutate(t.name, id, (l, known) => decideCancel(l, id, applier, known, now()));
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
