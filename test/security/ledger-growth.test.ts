import { statSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ownDatabase, startTestPlatform, storeBackends } from '../helpers/platform.js';

// The tenant document once grew without bound: decided resource requests stayed inside
// the one tenant document for minutes, and every write rewrote it, so 1,500 requests that use
// nothing (zero-size datasets) grew the embedded store file to 1 GiB and slowed everyone's
// writes; on MongoDB the 16 MB document limit would break it. Here 1,500 zero-size tries, each
// confirmed, go through the TCC routes over HTTP as the platform's own functions call them.
// Seen failing on 7852c7a before the fix (embedded store): the tenant document ended at
// 233,139 bytes (the 1,500 decided requests kept in it) and store.jsonl grew by 350,501,704
// bytes (334 MiB). Now a request leaves the document as soon as it is decided (archived to
// resource_request first): the document stayed under 1 KiB (largest seen 715 bytes) and the
// file grew by 3,364,478 bytes, ~2.2 KiB per request, its own records.
const REQUESTS = 1500;
const DOC_BOUND = 64 * 1024;
// Per request: the try, the confirm, the archive record and the prune — four lines each
// holding at most a small tenant document or one archived request.
const FILE_BOUND_PER_REQUEST = 4 * 1024;

for (const backend of storeBackends()) {
  t.test(`on the ${backend.name} store: ${REQUESTS} decided zero-size requests leave the tenant document small`, async (t) => {
    const p = await startTestPlatform({ ...ownDatabase(backend.env), MLP_SERVICE_TOKEN: 's'.repeat(40) });
    t.teardown(() => p.close());
    const rr = (verb: string, body: Record<string, unknown>) => p.call('PUT', `/api/v1/resource_request:${verb}`, { body, token: p.deps.serviceToken });
    const storeFile = path.join(p.root, 'store', 'store.jsonl');
    const fileSize = () => (backend.name === 'embedded' ? statSync(storeFile).size : 0);
    const docSize = async () => JSON.stringify(await p.deps.store.collection('tenant').get('default')).length;

    const fileBefore = fileSize();
    let largest = 0;
    let failures = 0;
    // Four callers at a time, as functions call the Resource-manager concurrently.
    let next = 0;
    const caller = async () => {
      while (next < REQUESTS) {
        const id = `ds-${next++}`;
        const tried = await rr('try', { id, applier: 'dm', request_type: 'request', rom: 0 });
        const confirmed = await rr('confirm', { id, applier: 'dm' });
        if (tried.status !== 200 || confirmed.status !== 200) failures += 1;
        if (next % 250 === 0) largest = Math.max(largest, await docSize());
      }
    };
    await Promise.all(Array.from({ length: 4 }, caller));
    t.equal(failures, 0, 'every try and confirm answered 200');
    const doc = await docSize();
    largest = Math.max(largest, doc);
    t.ok(largest < DOC_BOUND, `the tenant document stayed under ${DOC_BOUND} bytes: largest seen ${largest}, at the end ${doc}`);
    if (backend.name === 'embedded') {
      const grown = fileSize() - fileBefore;
      t.ok(grown < REQUESTS * FILE_BOUND_PER_REQUEST, `store.jsonl grew by ${grown} bytes (bound ${REQUESTS * FILE_BOUND_PER_REQUEST})`);
    }

    // The requests left the document but are still known: a repeated try is idempotent, a
    // cancel after confirm is refused, and nothing more is in use.
    t.equal((await rr('try', { id: 'ds-7', applier: 'dm', request_type: 'request', rom: 0 })).status, 200, 'a repeated try still answers 200');
    const late = await rr('cancel', { id: 'ds-7', applier: 'dm' });
    t.equal(late.status, 403, 'cancel after confirm is still refused');
    t.match(late.json, { msg: /was confirmed/ });
    const tenant = await p.deps.resources.getTenant('default');
    t.same(tenant?.inuse, { cpu: 0, gpu: 0, ram: 0, rom: 0 }, 'zero-size requests hold nothing');
  });
}
