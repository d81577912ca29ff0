import { api, ApiError, type Session } from './api.js';
import { field, h, messageLine } from './dom.js';
import { checkName, checkPassword } from './rules.js';

/** Register and log in (docs/api.md#users); every refusal shows the API's msg. */
export function loginView(onSession: (s: Session) => void, notice?: string): HTMLElement {
  const loginUser = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const loginPass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const loginMsg = messageLine();
  const regUser = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const regPass = h('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 128 });
  const regMsg = messageLine();
  if (notice) loginMsg.ok(notice);

  const login = async (user: string, password: string): Promise<Session> => ({ user, token: await api<string>('GET', `/api/v1/users/${encodeURIComponent(user)}/token`, { basic: [user, password] }) });

  const busy = (form: HTMLFormElement, on: boolean) => form.querySelectorAll('button').forEach((b) => (b.disabled = on));
  const loginForm = h(
    'form',
    { 'aria-labelledby': 'login-title', novalidate: true },
    h('h2', { id: 'login-title' }, 'Log in'),
    field('Username', loginUser),
    field('Password', loginPass),
    h('button', { type: 'submit', class: 'primary' }, 'Log in'),
    loginMsg.el,
  );
  loginForm.addEventListener('submit', (e) => {
    e.preventDefault();
    loginMsg.clear();
    busy(loginForm, true);
    login(loginUser.value.trim(), loginPass.value)
      .then(onSession, (err: unknown) => loginMsg.error(err instanceof ApiError ? err.message : String(err)))
      .finally(() => busy(loginForm, false));
  });

  const regForm = h(
    'form',
    { 'aria-labelledby': 'register-title', novalidate: true },
    h('h2', { id: 'register-title' }, 'Register'),
    field('New username', regUser, 'a–z only, up to 50 letters'),
    field('New password', regPass, '8 to 128 characters'),
    h('button', { type: 'submit' }, 'Register'),
    regMsg.el,
  );
  regForm.addEventListener('submit', (e) => {
    e.preventDefault();
    regMsg.clear();
    const user = regUser.value.trim();
    const problem = checkName('user', user) ?? checkPassword(regPass.value);
    if (problem) return regMsg.error(problem);
    busy(regForm, true);
    api('POST', '/api/v1/users', { body: { username: user, password: regPass.value } })
      .then(async () => {
        regMsg.ok(`registered ${user}; logging in…`);
        onSession(await login(user, regPass.value));
      })
      .catch((err: unknown) => regMsg.error(err instanceof ApiError ? err.message : String(err)))
      .finally(() => busy(regForm, false));
  });

  return h(
    'div',
    { class: 'login' },
    h('p', { class: 'title' }, 'MLP — machine learning platform'),
    h('p', { class: 'lead' }, 'Upload datasets, train with live metrics, serve models.'),
    h('div', { class: 'login-forms' }, loginForm, regForm),
  );
}
