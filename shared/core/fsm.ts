import { Conflict } from './errors.js';

/**
 * A state machine declared as data: `{ state: { event: nextState } }`.
 * `transition` is pure; stores apply its result as a conditional update on the old state,
 * so two racing requests cannot both win.
 */
export type Table<S extends string, E extends string> = Record<S, Partial<Record<E, S>>>;

export interface Machine<S extends string, E extends string> {
  table: Table<S, E>;
  /** The next state, or throws Conflict naming the object, its state and the event. */
  transition(state: S, event: E, what?: string): S;
  can(state: S, event: E): boolean;
}

export function defineMachine<S extends string, E extends string>(table: Table<S, E>): Machine<S, E> {
  return {
    table,
    can: (state, event) => table[state]?.[event] !== undefined,
    transition(state, event, what = 'object') {
      const next = table[state]?.[event];
      if (next === undefined) throw new Conflict(`${what} is ${state}; it cannot ${event}`);
      return next;
    },
  };
}
