/**
 * Serialises one process's writers per key, and carries two things from one writer to the next:
 *
 * - what the last write left. A writer that queued before that write was sent may decide from
 *   it instead of asking the server again: the state the write left existed at an instant
 *   inside the waiting writer's own call, so answering "condition not met" from it is as
 *   correct as reading it then. Under a burst of compare-and-set on one document, the losers
 *   of each round answer at once.
 * - a held resource (the document's lease), so a writer can pass it to the next one in line
 *   instead of releasing it and the next taking it again.
 */
export interface Turn<D, H> {
  /** The document as the last write before this turn left it (null: removed); undefined if unknown. */
  readonly known: D | null | undefined;
  /** What the previous turn passed on, if anything; set it to pass something on. */
  held: H | undefined;
  /** Whether other writers are queued behind this one. */
  othersWaiting(): boolean;
  /** Call just before sending a write; call the function it returns with what the write left. */
  sending(): (result: D | null) => void;
}

interface Slot<D, H> {
  tail: Promise<void>;
  /** Counts callers as they queue; a write remembers the count when it is sent. */
  queued: number;
  users: number;
  last?: { sentAt: number; doc: D | null };
  held?: H;
}

export class KeyQueue<D, H> {
  private readonly slots = new Map<string, Slot<D, H>>();

  /** Runs `work` when every earlier caller for `key` is done; a turn must not end holding something nobody waits for. */
  async run<R>(key: string, work: (turn: Turn<D, H>) => Promise<R>): Promise<R> {
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { tail: Promise.resolve(), queued: 0, users: 0 }));
    const s = slot;
    const ticket = ++s.queued;
    s.users += 1;
    const before = s.tail;
    let done!: () => void;
    s.tail = new Promise<void>((resolve) => (done = resolve));
    try {
      await before;
      // Only a write sent after this caller queued tells it something it could have read itself.
      const known = s.last && s.last.sentAt >= ticket ? s.last.doc : undefined;
      return await work({
        known,
        get held() {
          return s.held;
        },
        set held(value) {
          s.held = value;
        },
        othersWaiting: () => s.users > 1,
        sending: () => {
          const sentAt = s.queued;
          return (doc) => {
            s.last = { sentAt, doc };
          };
        },
      });
    } finally {
      done();
      s.users -= 1;
      if (s.users === 0) this.slots.delete(key);
    }
  }
}
