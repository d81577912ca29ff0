/**
 * Waiting work served fairly: users take turns, and within a user its keys (jobs) take turns, one
 * item per turn, so a user with a long backlog delays another user by one item, not by the
 * backlog. Items of one key come out in the order they went in; an item that repeats a waiting one
 * (same `same`, e.g. the epoch) replaces it in its place.
 */
export class FairQueue<T> {
  private readonly users = new Map<string, { keys: Map<string, Map<string, T>>; size: number }>();
  private count = 0;

  /**
   * `replaced(old, next)`: what goes in place of a waiting item repeated (default: `next`);
   * `dropped(item)`: told of each item dropped for a bound.
   */
  constructor(
    private readonly limits: { perKey: number; total: number },
    private readonly hooks: { replaced?: (old: T, next: T) => T; dropped?: (item: T) => void } = {},
  ) {}

  get size(): number {
    return this.count;
  }

  /**
   * Queues an item. Past the key's bound the key's oldest item is dropped; past the total bound,
   * the oldest item of the user with the most waiting. Returns how many items were dropped (0 or 1).
   */
  push(user: string, key: string, same: string, item: T): number {
    const waiting = this.users.get(user)?.keys.get(key);
    const old = waiting?.get(same);
    if (waiting && old !== undefined) {
      waiting.set(same, this.hooks.replaced ? this.hooks.replaced(old, item) : item);
      return 0;
    }
    let dropped = 0;
    if ((waiting?.size ?? 0) >= this.limits.perKey) dropped = this.dropOldest(user, key);
    else if (this.count >= this.limits.total) dropped = this.dropFromLargest();
    let u = this.users.get(user);
    if (!u) this.users.set(user, (u = { keys: new Map(), size: 0 }));
    let items = u.keys.get(key);
    if (!items) u.keys.set(key, (items = new Map()));
    items.set(same, item);
    u.size++;
    this.count++;
    return dropped;
  }

  /** The next item: the first user's first key's oldest; both then go to the back of their turns. */
  shift(): T | undefined {
    const first = this.users.entries().next();
    if (first.done) return undefined;
    const [user, u] = first.value;
    const [key, items] = u.keys.entries().next().value as [string, Map<string, T>];
    const [same, item] = items.entries().next().value as [string, T];
    items.delete(same);
    u.size--;
    this.count--;
    u.keys.delete(key);
    if (items.size > 0) u.keys.set(key, items);
    this.users.delete(user);
    if (u.size > 0) this.users.set(user, u);
    return item;
  }

  private dropOldest(user: string, key: string): number {
    const u = this.users.get(user);
    const items = u?.keys.get(key);
    const oldest = items?.entries().next();
    if (!u || !items || !oldest || oldest.done) return 0;
    items.delete(oldest.value[0]);
    this.hooks.dropped?.(oldest.value[1]);
    u.size--;
    this.count--;
    if (items.size === 0) u.keys.delete(key);
    if (u.size === 0) this.users.delete(user);
    return 1;
  }

  private dropFromLargest(): number {
    let largest: [string, { keys: Map<string, Map<string, T>>; size: number }] | undefined;
    for (const entry of this.users) if (!largest || entry[1].size > largest[1].size) largest = entry;
    if (!largest) return 0;
    let key: string | undefined;
    let most = 0;
    for (const [k, items] of largest[1].keys) if (items.size > most) [key, most] = [k, items.size];
    return key === undefined ? 0 : this.dropOldest(largest[0], key);
  }
}
