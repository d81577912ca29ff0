import { notFound } from '../../shared/datasets/lifecycle.js';
import { Conflict } from '../../shared/core/errors.js';
import { datasetId, datasetMachine, datasetsCollection } from '../../shared/records/datasets.js';
import type { Handler } from '../../shared/routes/route.js';
import type route from './route.js';

const EVENT = { creating: 'beat', ready: 'ready', error: 'fail' } as const;

export const handle: Handler<typeof route> = async ({ params, body }, deps) => {
  const name = params.name ?? '';
  const col = datasetsCollection(deps.store);
  for (;;) {
    const doc = await col.get(datasetId(params.user ?? '', name));
    if (!doc) notFound(name);
    const event = EVENT[body.state];
    if (!datasetMachine.can(doc.state, event)) throw new Conflict(`dataset ${name} is ${doc.state}; heartbeats are accepted only while it is creating`);
    const set = {
      state: datasetMachine.transition(doc.state, event),
      progress: body.state === 'ready' ? 100 : body.progress,
      heartbeat_at: deps.now().toISOString(),
      ...(body.state === 'error' ? { msg: 'the uploader reported an error' } : {}),
    };
    // Conditional on the version read: a racing heartbeat or reconciler makes this one re-decide.
    if (await col.update(doc._id, { version: doc.version }, { set })) return '';
  }
};
