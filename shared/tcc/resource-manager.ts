import { Conflict, Forbidden } from '../errors.js';
import { keyedMutex } from '../keyed-mutex.js';
import type { Logger } from '../log.js';
import type { Collection, Doc, Store } from '../store/port.js';
import { toApi, ZERO, type Amounts } from './amounts.js';
import { decideCancel, decideConfirm, decideTry, expireTries, isTerminal, type Applier, type Entry, type Ledger, type Outcome, type TryInput } from './ledger.js';

export interface TenantDoc extends Doc, Ledger {
  name: string;
}

/** A request once decided for good, kept after it leaves the tenant's ledger (resource_request). */
export interface ArchivedRequest extends Doc {
  id: string;
  tenant: string;
  entry: Entry;
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
  try(req: TryInput & { tenant: string }): Promise<void>;
  confirm(id: string, applier: Applier): Promise<void>;
  cancel(id: string, applier: Applier): Promise<void>;
  /** One idempotent pass: expire old tries, archive decided requests, forget old tombstones. */
  reconcile(): Promise<{ expired: string[]; archived: number; collected: number }>;
}

export interface ResourceManagerOptions {
  now: () => Date;
  log: Logger;
  timeoutMs: number;
  /** How long decided requests stay in the tenant document after being archived (fast idempotent retries). */
  retentionMs?: number;
  /** How long tombstones and cancelled requests are kept in the archive (API.md: at least 24 h). */
  tombstoneMs?: number;
  /** How long confirmed requests are kept in the archive. */
  confirmedMs?: number;
}

export function resourceManager(store: Store, opts: ResourceManagerOptions): ResourceManager {
  const tenants: Collection<TenantDoc> = store.collection<TenantDoc>('tenant');
  const archive: Collection<ArchivedRequest> = store.collection<ArchivedRequest>('resource_request');
  const retentionMs = opts.retentionMs ?? 5 * 60_000;
  const tombstoneMs = opts.tombstoneMs ?? 24 * 3600_000;
  const confirmedMs = opts.confirmedMs ?? 7 * 24 * 3600_000;
  const now = () => opts.now().getTime();
  const oneAtATime = keyedMutex();

  /**
   * Decides on the tenant as read, then writes with compare-and-set on its version; a lost
   * race decides again. The archive is read after the tenant, and requests leave the tenant
   * only after they are archived, so a request is never missed in between. Decisions of this
   * process take turns per tenant, so its concurrent callers do not lose races to each other
   * and read again; against other processes, the compare-and-set decides.
   */
  function mutate(name: string, id: string, decide: (l: Ledger, known: Entry | undefined) => Outcome): Promise<void> {
    return oneAtATime(name, () => decideAndWrite(name, id, decide));
  }

  async function decideAndWrite(name: string, id: string, decide: (l: Ledger, known: Entry | undefined) => Outcome): Promise<void> {
    for (;;) {
      const tenant = await tenants.get(name);
      if (!tenant) throw new Forbidden(`tenant ${name} not found`);
      const known = tenant.requests[id] ?? (await archive.get(id))?.entry;
      const out = decide(tenant, known);
      if (out.refuse) throw new Forbidden(out.refuse);
      if (!out.ledger) return;
      const written = await tenants.update(name, { version: tenant.version }, { set: { inuse: out.ledger.inuse, requests: out.ledger.requests } });
      if (written) return;
    }
  }

  /** The tenant whose ledger or archive knows the id; undefined for an unknown id. */
  async function tenantOf(id: string): Promise<string | undefined> {
    for (const t of await tenants.find()) if (t.requests[id]) return t.name;
    return (await archive.get(id))?.tenant;
  }

  async function archiveDecided(t: TenantDoc): Promise<number> {
    const done = Object.entries(t.requests).filter(([, e]) => isTerminal(e));
    for (const [id, entry] of done) {
      try {
        await archive.insert({ _id: id, id, tenant: t.name, entry });
      } catch (err) {
        if (!(err instanceof Conflict)) throw err; // archived by an earlier pass: fine
      }
    }
    const old = done.filter(([, e]) => now() - e.decided >= retentionMs).map(([id]) => id);
    if (old.length === 0) return 0;
    for (;;) {
      const cur = await tenants.get(t.name);
      if (!cur) return 0;
      const requests = { ...cur.requests };
      for (const id of old) if (requests[id] && isTerminal(requests[id])) delete requests[id];
      if (await tenants.update(t.name, { version: cur.version }, { set: { requests } })) return old.length;
    }
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
    async try(req) {
      await mutate(req.tenant, req.id, (l, known) => decideTry(l, req, known, now()));
    },
    async confirm(id, applier) {
      const tenant = await tenantOf(id);
      if (!tenant) return; // unknown id: 200, nothing to do
      await mutate(tenant, id, (l, known) => decideConfirm(l, id, applier, known, now()));
    },
    async cancel(id, applier) {
      const tenant = await tenantOf(id);
      if (tenant) return mutate(tenant, id, (l, known) => decideCancel(l, id, applier, known, now()));
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
        const fresh = await tenants.get(t.name);
        if (fresh) archived += await archiveDecided(fresh);
      }
      let collected = 0;
      for (const old of await archive.find({ updated_at: { $lt: new Date(now() - tombstoneMs).toISOString() } })) {
        const keepFor = old.entry.state === 'cancelled' ? tombstoneMs : confirmedMs;
        if (now() - old.entry.decided >= keepFor && (await archive.remove(old._id, { version: old.version }))) collected += 1;
      }
      return { expired, archived, collected };
    },
  };
}
