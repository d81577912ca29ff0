import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { Conflict, Unavailable } from '../core/errors.js';
import { cloneDoc } from './clone.js';
import { AppendLog } from './append-log.js';
import { lockDir } from './dir-lock.js';
import { applyChange, byCreation, isAfter, matches, monotonicClock } from './filter.js';
import type { Change, Collection, CollectionName, Doc, Filter, FindOptions, New, Store } from './port.js';

type Record_ = { c: string; id: string; doc?: Doc };

/**
 * The local default Store: every document in memory, every write appended to a
 * log file and synced before the write answers, the log compacted at open.
 * Conditional updates check and apply synchronously, so within the one process
 * that owns the store no two writers can both win a compare-and-set; every answer,
 * reads included, waits until what it saw is on disk.
 */
export async function openEmbeddedStore(opts: { dir: string; now?: () => Date }): Promise<Store> {
  const now = monotonicClock(opts.now ?? (() => new Date()));
  // The store holds password hashes: the platform's user alone may read it.
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const release = await lockDir(path.join(opts.dir, 'LOCK'));
  const file = path.join(opts.dir, 'store.jsonl');
  const data = await load(file);
  await compact(file, data);
  const log = await AppendLog.open(file);
  let closed = false;

  const persist = (c: string, id: string, doc?: Doc) => log.append(JSON.stringify({ c, id, doc } satisfies Record_));
  const table = (name: string) => {
    let t = data.get(name);
    if (!t) data.set(name, (t = new Map()));
    return t;
  };
  const alive = () => {
    if (closed) throw new Unavailable('store is closed');
  };

  const collection = <T extends Doc>(name: CollectionName): Collection<T> => {
    const docs = table(name) as Map<string, T>;
    return {
      async insert(fresh: New<T>) {
        alive();
        if (docs.has(fresh._id)) {
          await log.settled();
          throw new Conflict(`${name} ${fresh._id} already exists`);
        }
        const t = now();
        const doc = { ...cloneDoc(fresh), version: 1, created_at: t, updated_at: t } as T;
        docs.set(doc._id, doc);
        await persist(name, doc._id, doc);
        return cloneDoc(doc);
      },
      async get(id) {
        alive();
        const doc = docs.get(id);
        const copy = doc ? cloneDoc(doc) : null;
        await log.settled();
        return copy;
      },
      async find(filter?: Filter<T>, findOpts?: FindOptions) {
        alive();
        const after = findOpts?.after;
        const out = [...docs.values()].filter((d) => isAfter(d, after) && matches(d as unknown as Record<string, unknown>, filter)).sort(byCreation);
        const copy = cloneDoc(findOpts?.limit !== undefined ? out.slice(0, findOpts.limit) : out);
        await log.settled();
        return copy;
      },
      async update(id, where: Filter<T>, change: Change<T>) {
        alive();
        const doc = docs.get(id);
        if (!doc || !matches(doc as unknown as Record<string, unknown>, where)) {
          // A refusal may rest on a write not yet on disk: answer once it is.
          await log.settled();
          return null;
        }
        const next = applyChange(doc, change, now());
        docs.set(id, next);
        await persist(name, id, next);
        return cloneDoc(next);
      },
      async remove(id, where?: Filter<T>) {
        alive();
        const doc = docs.get(id);
        if (!doc || !matches(doc as unknown as Record<string, unknown>, where)) {
          await log.settled();
          return false;
        }
        docs.delete(id);
        await persist(name, id);
        return true;
      },
      async upsertMany(fresh: New<T>[]) {
        alive();
        const t = now();
        const written = fresh.map((f) => {
          const old = docs.get(f._id);
          const doc = { ...old, ...cloneDoc(f), version: (old?.version ?? 0) + 1, created_at: old?.created_at ?? t, updated_at: t } as T;
          docs.set(doc._id, doc);
          return doc;
        });
        // Appended together, the log syncs them once (append-log.ts: group commit).
        await Promise.all(written.map((doc) => persist(name, doc._id, doc)));
      },
    };
  };

  return {
    kind: 'embedded',
    collection,
    async ping() {
      alive();
    },
    async close() {
      if (closed) return;
      closed = true;
      await log.close();
      await release();
    },
  };
}

async function load(file: string): Promise<Map<string, Map<string, Doc>>> {
  const data = new Map<string, Map<string, Doc>>();
  let text = '';
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line) return;
    let rec: Record_;
    try {
      rec = JSON.parse(line) as Record_;
    } catch (err) {
      // Only the last line can be torn by a crash mid-write; it was never acknowledged.
      if (i >= lines.length - 2) return;
      throw new Error(`store file ${file} is corrupt at line ${i + 1}: ${(err as Error).message}`);
    }
    let t = data.get(rec.c);
    if (!t) data.set(rec.c, (t = new Map()));
    if (rec.doc) t.set(rec.id, rec.doc);
    else t.delete(rec.id);
  });
  return data;
}

/** Rewrites the log as one line per live document, atomically (write, sync, rename). */
async function compact(file: string, data: Map<string, Map<string, Doc>>): Promise<void> {
  const tmp = `${file}.tmp`;
  const lines: string[] = [];
  for (const [c, docs] of data) for (const [id, doc] of docs) lines.push(JSON.stringify({ c, id, doc }));
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.write(lines.map((l) => `${l}\n`).join(''));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
