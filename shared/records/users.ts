import type { Collection, Doc, Store } from '../store/port.js';

export type UserState = 'NotActive' | 'Actived';

export interface UserDoc extends Doc {
  username: string;
  password_hash: string;
  state: UserState;
  /** Ids of logged-out tokens, kept until they would have expired anyway. */
  revoked: { jti: string; exp: number }[];
}

/** What the API shows of a user: never the hash, never the revocation list. */
export interface UserView {
  username: string;
  state: UserState;
  created_at: string;
  updated_at: string;
}

export function userView(doc: UserDoc): UserView {
  return { username: doc.username, state: doc.state, created_at: doc.created_at, updated_at: doc.updated_at };
}

export interface UsersRepo {
  get(username: string): Promise<UserDoc | null>;
  /** Throws Conflict when the name is taken (deactivated names stay taken). */
  create(username: string, passwordHash: string): Promise<UserDoc>;
  deactivate(username: string): Promise<UserDoc | null>;
  /** Adds a token id to the revocation list; drops entries already expired. */
  revoke(username: string, token: { jti: string; exp: number }, nowSeconds: number): Promise<void>;
}

export function usersRepo(store: Store): UsersRepo {
  const users: Collection<UserDoc> = store.collection<UserDoc>('user');
  return {
    get: (username) => users.get(username),
    create: (username, passwordHash) => users.insert({ _id: username, username, password_hash: passwordHash, state: 'Actived', revoked: [] }),
    async deactivate(username) {
      const doc = await users.get(username);
      if (!doc) return null;
      if (doc.state === 'NotActive') return doc;
      return (await users.update(username, { state: 'Actived' }, { set: { state: 'NotActive' } })) ?? users.get(username);
    },
    async revoke(username, token, nowSeconds) {
      // Compare-and-set on version: two logouts racing must not drop each other's entry.
      for (;;) {
        const doc = await users.get(username);
        if (!doc) return;
        const revoked = doc.revoked.filter((r) => r.exp > nowSeconds && r.jti !== token.jti).concat(token);
        if (await users.update(username, { version: doc.version }, { set: { revoked } })) return;
      }
    },
  };
}
