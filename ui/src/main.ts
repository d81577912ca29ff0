import { api, type Session } from './api.js';
import { dashboard } from './dashboard.js';
import { loginView } from './login.js';
import { clearSession, loadSession, saveSession } from './session.js';

// docs/api.md#browser-ui: /, /regist_login(.jsp) register and log in; /index(.jsp) is the user's page.
const LOGIN_PATHS = ['/', '/regist_login', '/regist_login.jsp'];
const main = document.getElementById('main') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
let current: { stop(): void } | undefined;

function show(notice?: string): void {
  current?.stop();
  current = undefined;
  const session = loadSession();
  if (!session) {
    if (!LOGIN_PATHS.includes(location.pathname)) history.replaceState(null, '', '/regist_login');
    document.title = 'MLP — log in';
    who.textContent = '';
    nav.hidden = true;
    main.replaceChildren(loginView(loggedIn, notice));
    main.dataset.view = 'login';
  } else {
    if (LOGIN_PATHS.includes(location.pathname)) history.replaceState(null, '', '/index');
    document.title = `MLP — ${session.user}`;
    who.textContent = session.user;
    nav.hidden = false;
    const page = dashboard(session, (notice) => void logout(notice));
    current = page;
    main.replaceChildren(page.el);
    main.dataset.view = 'index';
  }
  main.focus();
}

function loggedIn(session: Session): void {
  saveSession(session);
  history.pushState(null, '', '/index');
  show();
}

/** Logs out: the token is revoked on the platform first (docs/api.md#users), then forgotten here. */
async function logout(notice?: string): Promise<void> {
  const session = loadSession();
  current?.stop();
  current = undefined;
  if (session && !notice) await api('DELETE', `/api/v1/users/${encodeURIComponent(session.user)}/token`, { session }).catch((e: unknown) => console.warn('logout', e));
  clearSession();
  history.pushState(null, '', '/regist_login');
  show(notice ?? 'logged out');
}

document.getElementById('logout')?.addEventListener('click', () => void logout());
window.addEventListener('popstate', () => show());
show();
