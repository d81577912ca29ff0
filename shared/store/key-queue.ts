/**
 * Serialises one process's writers per key. A writer that queued while another wrote may
 * decide from that write's result instead of asking the server again: the state the write
 * left existed at an instant inside the waiting writer's own call, so answering "condition
 * not met" from it is as correct as reading it then. Under a burst of compare-and-set on one
 * document, the losers of each round answer at once instead of each taking the lease in turn.
 */
export interface Turn<D> {
  /** The document as the last write before this turn left it (null: removed); undefined if unknown. */
  readonly known: D | null | undefined;
  /** Call just before sending a write; call the function it returns with what the write left. */
  sending(): (result: D | null) => void;
}

interface Slot<D> {
  tail: Promise<void>;
  /** Counts callers as they queue; a write remembers the count when it is sent. */
  queued: number;
  users: number;
  last?: { sentAt: number; doc: D | null };
}

export class KeyQueue<D> {
  private readonly slots = new Map<string, Slot<D>>();

  async run<R>(key: string, work: (turn: Turn<D>) => Promise<R>): Promise<R> {
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
