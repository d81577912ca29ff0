import { notFound } from '../../shared/datasets/lifecycle.js';
import { Conflict } from '../../shared/core/errors.js';
import { datasetId, datasetMachine, datasetsCollection, datasetView } from '../../shared/records/datasets.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

export const handle: Handler<typeof route> = async ({ params }, deps) => {
  const name = params.name ?? '';
  const col = datasetsCollection(deps.store);
  for (;;) {
    const doc = await col.get(datasetId(params.user ?? '', name));
    if (!doc) notFound(name);
    if (doc.state === 'deleting') return datasetView(doc); // docs/api.md#conventions: idempotent
    if (!datasetMachine.can(doc.state, 'delete')) throw new Conflict(`dataset ${name} is ${doc.state}; only ready or error datasets can be deleted`);
    const next = await col.update(doc._id, { version: doc.version }, { set: { state: datasetMachine.transition(doc.state, 'delete') } });
    // The datasets reconciler removes the files, releases the rom and then the record.
    if (next) return datasetView(next);
  }
};
