import { hasCode } from '../core/errors.js';
import { defineMachine } from '../core/fsm.js';
import { add, describe, equal, exceeding, sub, ZERO, type Amounts } from './amounts.js';

/**
 * Try-confirm-cancel decisions as pure functions on one tenant's ledger. The ledger —
 * capacity, in-use counters and the requests not yet decided — lives in one document, so
 * each decision is applied by one compare-and-set: no crash can leave it half done. A decided
 * request leaves the ledger for the archive right after (resource-manager.ts); decisions on
 * it are then made with `known` read from there, and never change the ledger.
 */
export type Applier = 'dm' | 'jm' | 'am' | 'mm';
export type RequestType = 'request' | 'release';
export type EntryState = 'reserved' | 'tried' | 'confirmed' | 'cancelled';

export interface Entry {
  applier: Applier;
  /** A tombstone is what cancelling an unknown id leaves, so a late try is refused. */
  type: RequestType | 'tombstone';
  amounts: Amounts;
  state: EntryState;
  /** Milliseconds since the epoch: when tried, when it reached its current state. */
  created: number;
  decided: number;
}

export interface Ledger {
  capacity: Amounts;
  inuse: Amounts;
  requests: Record<string, Entry>;
}

/** A `request` try is `reserved` (counted in use at once); a `release` try is `tried` (counted at confirm). */
export const entryMachine = defineMachine<EntryState, 'confirm' | 'cancel' | 'expire'>({
  reserved: { confirm: 'confirmed', cancel: 'cancelled', expire: 'cancelled' },
  tried: { confirm: 'confirmed', cancel: 'cancelled', expire: 'cancelled' },
  confirmed: {},
  cancelled: {},
});

export const isTerminal = (e: Entry) => e.state === 'confirmed' || e.state === 'cancelled';

/**
 * The most requests one tenant's ledger holds at once, so its document stays bounded (~200 bytes
 * each: ~2 MB at most, far below MongoDB's 16 MB). Only tries wait in it, each for the moment
 * between its try and its confirm (at most MLP_TCC_TIMEOUT): the platform's callers are bounded
 * by users' object caps and take milliseconds, so reaching this means a flood, not real use.
 */
export const MAX_PENDING_REQUESTS = 10_000;

/** Ids of the requests decided for good, which the ledger keeps only until they are archived. */
export const decidedIds = (l: Pick<Ledger, 'requests'>): string[] => Object.keys(l.requests).filter((id) => isTerminal(l.requests[id] as Entry));

/**
 * Why the ledger refuses a decision (a 403). Callers branch on these, never on the message:
 * TCC_CANCELLED — the request was cancelled or timed out (a late try, or a confirm after it);
 * TCC_CONFIRMED — it was confirmed, so it cannot be cancelled (it is held);
 * the others refuse a try or a confirm that does not fit, or does not belong to the caller.
 */
export const REFUSALS = ['TCC_CANCELLED', 'TCC_CONFIRMED', 'TCC_CONTENT_DIFFERS', 'TCC_OTHER_APPLIER', 'TCC_TOO_MANY_PENDING', 'TCC_NEVER_FITS', 'TCC_DOES_NOT_FIT', 'TCC_RELEASE_TOO_LARGE'] as const;
export type RefusalCode = (typeof REFUSALS)[number];
export const isRefusalCode = (s: unknown): s is RefusalCode => (REFUSALS as readonly unknown[]).includes(s);
/** Whether the Resource-manager refused with this code (the refusal's message plays no part). */
export const refusedAs = (err: unknown, code: RefusalCode): boolean => hasCode(err, code);

export interface Refusal {
  code: RefusalCode;
  msg: string;
}

/** `ledger` is the new ledger to store, or null when nothing changes; `refuse` is why a 403. */
export type Outcome = { ledger: Ledger | null; refuse?: Refusal };

export interface TryInput {
  id: string;
  applier: Applier;
  type: RequestType;
  amounts: Amounts;
}

export function decideTry(l: Ledger, req: TryInput, known: Entry | undefined, now: number, maxPending = MAX_PENDING_REQUESTS): Outcome {
  if (known) {
    if (known.state === 'cancelled') return refuse('TCC_CANCELLED', `resource request ${req.id} was cancelled or timed out; a late try is refused — use a new id`);
    if (known.applier !== req.applier || known.type !== req.type || !equal(known.amounts, req.amounts)) {
      return refuse('TCC_CONTENT_DIFFERS', `resource request ${req.id} was already tried with different content`);
    }
    return { ledger: null };
  }
  // A 403 like "does not fit now": final for the caller, so nothing is held and nothing piles up
  // in retries (a 503 would be retried, then cancelled, adding a tombstone per try); a queued
  // job waits and tries again. Decided requests not yet archived count too: the bound is on the document.
  const held = Object.keys(l.requests).length;
  if (held >= maxPending)
    return refuse('TCC_TOO_MANY_PENDING', `too many resource requests in flight for this tenant (${held}, at most ${maxPending}); try again once some are confirmed or cancelled`);
  if (req.type === 'release') {
    const refusal = releaseRefusal(l, req.amounts);
    if (refusal) return { ledger: null, refuse: refusal };
    return { ledger: withEntry(l, req.id, { ...entryOf(req, now), state: 'tried' }) };
  }
  const never = exceeding(req.amounts, l.capacity);
  if (never.length > 0) return refuse('TCC_NEVER_FITS', `request can never fit the tenant: needs ${describe(req.amounts, never)}; capacity ${describe(l.capacity, never)}`);
  const free = freeOf(l);
  const short = exceeding(req.amounts, free);
  if (short.length > 0) return refuse('TCC_DOES_NOT_FIT', `request does not fit now: needs ${describe(req.amounts, short)}; free ${describe(free, short)}`);
  return { ledger: { ...withEntry(l, req.id, { ...entryOf(req, now), state: 'reserved' }), inuse: add(l.inuse, req.amounts) } };
}

export function decideConfirm(l: Ledger, id: string, applier: Applier, known: Entry | undefined, now: number): Outcome {
  if (!known) return { ledger: null }; // docs/api.md#resources: confirm of an unknown id answers 200
  if (known.applier !== applier) return refuse('TCC_OTHER_APPLIER', `resource request ${id} belongs to applier ${known.applier}, not ${applier}`);
  if (known.state === 'confirmed') return { ledger: null };
  if (!entryMachine.can(known.state, 'confirm')) return refuse('TCC_CANCELLED', `resource request ${id} was cancelled or timed out; it cannot be confirmed`);
  const confirmed = { ...known, state: entryMachine.transition(known.state, 'confirm'), decided: now };
  if (known.type === 'release') {
    const refusal = releaseRefusal(l, known.amounts);
    if (refusal) return { ledger: null, refuse: refusal };
    return { ledger: { ...withEntry(l, id, confirmed), inuse: sub(l.inuse, known.amounts) } };
  }
  return { ledger: withEntry(l, id, confirmed) };
}

export function decideCancel(l: Ledger, id: string, applier: Applier, known: Entry | undefined, now: number): Outcome {
  if (!known) {
    return { ledger: withEntry(l, id, { applier, type: 'tombstone', amounts: ZERO, state: 'cancelled', created: now, decided: now }) };
  }
  if (known.applier !== applier) return refuse('TCC_OTHER_APPLIER', `resource request ${id} belongs to applier ${known.applier}, not ${applier}`);
  if (known.state === 'cancelled') return { ledger: null };
  if (!entryMachine.can(known.state, 'cancel')) return refuse('TCC_CONFIRMED', `resource request ${id} was confirmed; it cannot be cancelled`);
  return { ledger: giveBack(l, id, known, now) };
}

/** Cancels every try older than the timeout (docs/api.md#resources safety net); returns their ids. */
export function expireTries(l: Ledger, now: number, timeoutMs: number): { ledger: Ledger | null; expired: string[] } {
  let next = l;
  const expired: string[] = [];
  for (const [id, entry] of Object.entries(l.requests)) {
    if (isTerminal(entry) || now - entry.created < timeoutMs) continue;
    next = giveBack(next, id, entry, now);
    expired.push(id);
  }
  return { ledger: expired.length > 0 ? next : null, expired };
}

/**
 * A release may give back only what confirmed requests hold: were it to count reservations
 * that are later cancelled, in-use would go below zero.
 */
function releaseRefusal(l: Ledger, amounts: Amounts): Refusal | undefined {
  const reserved = Object.values(l.requests)
    .filter((e) => e.state === 'reserved')
    .reduce((sum, e) => add(sum, e.amounts), ZERO);
  const held = sub(l.inuse, reserved);
  const over = exceeding(amounts, held);
  if (over.length === 0) return undefined;
  return { code: 'TCC_RELEASE_TOO_LARGE', msg: `release is larger than what is in use: releasing ${describe(amounts, over)}; in use (confirmed) ${describe(held, over)}` };
}

/** What the tenant has free; negative where capacity was configured below what is in use. */
export const freeOf = (l: Ledger): Amounts => sub(l.capacity, l.inuse);

function giveBack(l: Ledger, id: string, entry: Entry, now: number): Ledger {
  const cancelled: Entry = { ...entry, state: 'cancelled', decided: now };
  // Only a reserved request was counted; a tried release never was.
  const inuse = entry.state === 'reserved' ? sub(l.inuse, entry.amounts) : l.inuse;
  return { ...withEntry(l, id, cancelled), inuse };
}

function entryOf(req: TryInput, now: number): Omit<Entry, 'state'> {
  return { applier: req.applier, type: req.type, amounts: req.amounts, created: now, decided: now };
}

/** The ledger without the given requests (once they are archived). */
export function withoutEntries(l: Ledger, ids: readonly string[]): Ledger {
  const requests = { ...l.requests };
  for (const id of ids) delete requests[id];
  return { ...l, requests };
}

function withEntry(l: Ledger, id: string, entry: Entry): Ledger {
  return { ...l, requests: { ...l.requests, [id]: entry } };
}

function refuse(code: RefusalCode, msg: string): Outcome {
  return { ledger: null, refuse: { code, msg } };
}
