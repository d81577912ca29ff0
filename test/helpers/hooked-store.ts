import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { openEmbeddedStore } from '../../shared/store/embedded.js';
import type { Collection, CollectionName, Doc, Store } from '../../shared/store/port.js';

export type StoreCall = { collection: CollectionName; method: keyof Collection<Doc> };

/**
 * A stand-in for the store: the real embedded store, with `before` awaited ahead of every call a
 * collection answers, so a test can run another function at an exact point of a handler (an
 * interleaving a real deployment reaches by timing). Closed when the test ends.
 */
export async function hookedStore(t: Test, before: (call: StoreCall) => Promise<void>): Promise<Store> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-unit-store-'));
  const inner = await openEmbeddedStore({ dir });
  t.teardown(async () => {
    await inner.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    kind: `${inner.kind} (hooked)`,
    ping: () => inner.ping(),
    close: () => inner.close(),
    collection<T extends Doc>(name: CollectionName): Collection<T> {
      const col = inner.collection<T>(name);
      const hook = (method: StoreCall['method']) => before({ collection: name, method });
      return {
        insert: async (doc) => (await hook('insert'), col.insert(doc)),
        get: async (id) => (await hook('get'), col.get(id)),
        find: async (filter, opts) => (await hook('find'), col.find(filter, opts)),
        update: async (id, where, change) => (await hook('update'), col.update(id, where, change)),
        remove: async (id, where) => (await hook('remove'), col.remove(id, where)),
        upsertMany: async (docs) => (await hook('upsertMany'), col.upsertMany(docs)),
      };
    },
  };
}
