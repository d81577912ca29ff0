import type { Session } from './api.js';

// Per tab: a reload keeps the user logged in, closing the tab forgets the token.
const KEY = 'mlp.session';

export function loadSession(): Session | undefined {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as Session | null;
    return s && typeof s.user === 'string' && typeof s.token === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

export const saveSession = (s: Session) => sessionStorage.setItem(KEY, JSON.stringify(s));
export const clearSession = () => sessionStorage.removeItem(KEY);
