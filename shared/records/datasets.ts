import { defineMachine } from '../core/fsm.js';
import type { Collection, Doc, Store } from '../store/port.js';

export type DatasetState = 'creating' | 'ready' | 'error' | 'deleting';

/**
 * Where the dataset's rom stands with the Resource-manager:
 * trying (tried, outcome not yet recorded), held (confirmed), none (never held), released.
 */
export type RomState = 'trying' | 'held' | 'none' | 'released';

export interface DatasetDoc extends Doc {
  uid: string;
  name: string;
  user: string;
  tenant: string;
  size: number;
  state: DatasetState;
  progress: number;
  msg?: string;
  heartbeat_at: string;
  rom: RomState;
  /** Bumped when a release try expired unconfirmed, so the next one has a fresh id. */
  release_attempt?: number;
}

/** What the API shows of a dataset: everything but the platform's bookkeeping (uid, rom, heartbeat). */
export type DatasetView = Pick<DatasetDoc, 'name' | 'user' | 'tenant' | 'size' | 'state' | 'progress' | 'msg' | 'created_at' | 'updated_at'>;

export function datasetView(d: DatasetDoc): DatasetView {
  return {
    name: d.name,
    user: d.user,
    tenant: d.tenant,
    size: d.size,
    state: d.state,
    progress: d.progress,
    ...(d.msg ? { msg: d.msg } : {}),
    created_at: d.created_at,
    updated_at: d.updated_at,
  };
}

/** docs/api.md#datasets: heartbeats only while creating; delete only from ready or error. */
export const datasetMachine = defineMachine<DatasetState, 'beat' | 'ready' | 'fail' | 'delete'>({
  creating: { beat: 'creating', ready: 'ready', fail: 'error' },
  ready: { delete: 'deleting' },
  error: { delete: 'deleting' },
  deleting: { delete: 'deleting' },
});

export const datasetId = (user: string, name: string) => `${user}/${name}`;

/** docs/api.md#datasets: [a-z.], not starting with '.', no '..' (keeps .home and the parent out of reach). */
export const DATASET_NAME = '^(?!\\.)(?!.*\\.\\.)[a-z.]{1,50}$';

export function datasetsCollection(store: Store): Collection<DatasetDoc> {
  return store.collection<DatasetDoc>('dataset');
}
