import type { Change, Cursor, Doc, Filter, Ops } from './port.js';

/** Evaluates a Filter the way MongoDB would for the operators the port allows. */
export function matches(doc: Record<string, unknown>, filter: Filter<unknown> | undefined): boolean {
  if (!filter) return true;
  for (const [field, cond] of Object.entries(filter)) {
    if (cond === undefined) continue;
    const value = doc[field];
    if (cond !== null && typeof cond === 'object' && !Array.isArray(cond)) {
      if (!matchOps(value, cond as Ops<unknown>)) return false;
    } else if (!equal(value, cond)) {
      return false;
    }
  }
  return true;
}

function matchOps(value: unknown, ops: Ops<unknown>): boolean {
  for (const [op, arg] of Object.entries(ops)) {
    switch (op) {
      case '$in':
        if (!(arg as unknown[]).some((a) => equal(value, a))) return false;
        break;
      case '$nin':
        if ((arg as unknown[]).some((a) => equal(value, a))) return false;
        break;
      case '$ne':
        if (equal(value, arg)) return false;
        break;
      case '$lt':
        if (!(comparable(value, arg) && (value as number) < (arg as number))) return false;
        break;
      case '$lte':
        if (!(comparable(value, arg) && (value as number) <= (arg as number))) return false;
        break;
      case '$gt':
        if (!(comparable(value, arg) && (value as number) > (arg as number))) return false;
        break;
      case '$gte':
        if (!(comparable(value, arg) && (value as number) >= (arg as number))) return false;
        break;
      case '$exists':
        if ((value !== undefined) !== arg) return false;
        break;
      default:
        throw new Error(`filter operator ${op} is not supported by the Store port`);
    }
  }
  return true;
}

// MongoDB treats a missing field as equal to null.
function equal(a: unknown, b: unknown): boolean {
  if (b === null) return a === null || a === undefined;
  return a === b;
}

function comparable(a: unknown, b: unknown): boolean {
  return (typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string');
}

/** Applies a Change to a copy of the document (embedded adapter; Mongo does it server-side). */
export function applyChange<T extends Doc>(doc: T, change: Change<T>, now: string): T {
  const next = { ...doc, ...(change.set ?? {}) } as Record<string, unknown>;
  for (const field of change.unset ?? []) delete next[field];
  for (const [field, by] of Object.entries(change.inc ?? {})) {
    next[field] = ((next[field] as number | undefined) ?? 0) + (by as number);
  }
  next.version = doc.version + 1;
  next.updated_at = now;
  return next as T;
}

export function byCreation(a: Pick<Doc, 'created_at' | '_id'>, b: Pick<Doc, 'created_at' | '_id'>): number {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a._id < b._id ? -1 : a._id > b._id ? 1 : 0;
}

/** Whether the document comes after the cursor in creation order (created_at, then _id). */
export function isAfter(doc: Pick<Doc, 'created_at' | '_id'>, cursor: Cursor | undefined): boolean {
  return cursor === undefined || byCreation(doc, cursor) > 0;
}

/**
 * Timestamps that never repeat or go back within one store client, so "ordered by
 * created_at" is the order of creation even for documents made in the same millisecond.
 */
export function monotonicClock(now: () => Date): () => string {
  let last = 0;
  return () => {
    last = Math.max(now().getTime(), last + 1);
    return new Date(last).toISOString();
  };
}
