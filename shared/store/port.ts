/**
 * The Store port: what the platform needs from a document database, and no more.
 * Every state change is a single-document conditional update (compare-and-set),
 * so it works the same on the embedded store and on a standalone MongoDB.
 */
export interface Doc {
  _id: string;
  /** Bumped by every update; conditions may compare it (optimistic concurrency). */
  version: number;
  created_at: string;
  updated_at: string;
}

/** What callers write; the store fills in version and timestamps. */
export type New<T extends Doc> = Omit<T, 'version' | 'created_at' | 'updated_at'>;

type Scalar = string | number | boolean | null;
export interface Ops<V> {
  $in?: V[];
  $nin?: V[];
  $ne?: V | null;
  $lt?: V;
  $lte?: V;
  $gt?: V;
  $gte?: V;
  $exists?: boolean;
}
/** Equality or a few comparison operators per top-level field — the subset both adapters implement. */
export type Filter<T> = { [K in keyof T]?: (T[K] & Scalar) | null | Ops<T[K] & Scalar> } & Record<string, Scalar | Ops<Scalar> | undefined>;

export interface Change<T> {
  /** Fields to set (top-level). */
  set?: Partial<T>;
  /** Fields to remove. */
  unset?: (keyof T & string)[];
  /** Numeric fields to add to. */
  inc?: Partial<Record<keyof T & string, number>>;
}

/** A position in creation order: the (created_at, _id) of the last document a page held. */
export interface Cursor {
  created_at: string;
  _id: string;
}

export interface FindOptions {
  /** At most this many documents. */
  limit?: number;
  /**
   * Only documents after this position in creation order (keyset paging): a page goes on from
   * the last document of the one before, even if that document has since been removed.
   */
  after?: Cursor;
}

export interface Collection<T extends Doc> {
  /** Inserts; throws Conflict when the _id is taken. */
  insert(doc: New<T>): Promise<T>;
  get(id: string): Promise<T | null>;
  /** Matching documents ordered by created_at, then _id (oldest first), after `opts.after` if given. */
  find(filter?: Filter<T>, opts?: FindOptions): Promise<T[]>;
  /** Applies the change only if the document matches `where`; returns the new document or null. */
  update(id: string, where: Filter<T>, change: Change<T>): Promise<T | null>;
  /** Removes only if the document matches `where`; true if it removed one. */
  remove(id: string, where?: Filter<T>): Promise<boolean>;
  /**
   * Sets the fields of each document, inserting those missing (version 1) and bumping the version
   * of those there, in one write: one synced append on the embedded store, one ordered bulk write
   * on MongoDB (a later document of the same _id wins). Unconditional and without a lease, so only
   * for documents that one writer owns: the metrics relay's points (shared/metrics/store.ts).
   */
  upsertMany(docs: New<T>[]): Promise<void>;
}

export interface Store {
  /** Human-readable adapter name for logs and test titles. */
  readonly kind: string;
  collection<T extends Doc>(name: CollectionName): Collection<T>;
  /** Throws Unavailable when the store cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Collections as the original design names them (docs/architecture.md), plus the platform's own (app_port: ports taken by live apps). */
export type CollectionName = 'user' | 'tenant' | 'resource_request' | 'job' | 'metrics' | 'model' | 'dataset' | 'app_group' | 'app_port' | 'sweep' | 'conformance';
