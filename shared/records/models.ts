import { defineMachine } from '../core/fsm.js';
import type { Collection, Store } from '../store/port.js';
import type { Holder } from '../tcc/hold.js';

export type ModelState = 'creating' | 'ready' | 'error' | 'deleting';

export interface ModelDoc extends Holder {
  user: string;
  /** Bytes of the source job's ckpt/, measured before the copy; rom is reserved for them. */
  size: number;
  /** The finished job whose ckpt/ this model is (docs/api.md#models). */
  src: string;
  state: ModelState;
  /** Who copies the files, and since when: a copier that died is replaced after COPY_LEASE_MS. */
  copy_claim?: string;
  copy_at?: string;
  /** Written by every app create that uses the model: its version bump makes a racing delete look again. */
  used_at?: string;
}

export type ModelView = Pick<ModelDoc, 'name' | 'user' | 'tenant' | 'size' | 'src' | 'state' | 'msg' | 'created_at' | 'updated_at'>;

export function modelView(m: ModelDoc): ModelView {
  const { name, user, tenant, size, src, state, msg, created_at, updated_at } = m;
  return { name, user, tenant, size, src, state, ...(msg ? { msg } : {}), created_at, updated_at };
}

/** docs/api.md#models: copied → ready, failed → error; delete only from ready or error (again while deleting). */
export const modelMachine = defineMachine<ModelState, 'copied' | 'fail' | 'delete'>({
  creating: { copied: 'ready', fail: 'error' },
  ready: { delete: 'deleting' },
  error: { delete: 'deleting' },
  deleting: { delete: 'deleting' },
});

export const modelId = (user: string, name: string) => `${user}/${name}`;
export const modelsCollection = (store: Store): Collection<ModelDoc> => store.collection<ModelDoc>('model');
