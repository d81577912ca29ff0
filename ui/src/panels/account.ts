import { api, type Session, userPath } from '../api.js';
import { field, h, messageLine, toast } from '../dom.js';
import { errText, type Panel, section } from './common.js';

/** Who is logged in, the API token, the data client's login line, and deactivation. */
export function accountPanel(session: Session, onLogout: (notice?: string) => void): Panel {
  const base = location.origin;
  const tokenInput = h('input', { readonly: true, value: session.token, class: 'mono', spellcheck: 'false' });
  const copyButton = h('button', { type: 'button' }, 'Copy token');
  copyButton.addEventListener('click', () => {
    const done = () => toast('token copied');
    navigator.clipboard?.writeText(session.token).then(done, () => {
      tokenInput.select();
      document.execCommand('copy');
      done();
    }) ?? (tokenInput.select(), document.execCommand('copy'), done());
  });
  const loginLine = `node data_client.js login --url ${base} --user ${session.user} --password '…'`;
  const deactivate = h('button', { type: 'button', class: 'danger' }, 'Deactivate account…');
  const dialog = deactivateDialog(session, () => onLogout('your account is deactivated'));
  deactivate.addEventListener('click', () => dialog.open());
  const el = section(
    'account',
    'Account',
    h('p', {}, 'Logged in as ', h('strong', { id: 'username' }, session.user), '.'),
    h('div', { class: 'row' }, field('API token', tokenInput, 'send it as Authorization: Bearer …'), copyButton),
    h('p', {}, 'Command line: ', h('a', { href: '/data_client.js' }, 'download data_client.js'), ', then'),
    h('pre', { class: 'cmd', id: 'login-line', tabindex: 0, 'aria-label': 'command to log in with the data client' }, loginLine),
    h('div', { class: 'row' }, deactivate),
    dialog.el,
  );
  return { el };
}

/** Deactivation is final: a dialog asks to type the username first (docs/api.md#users). */
function deactivateDialog(session: Session, done: () => void): { el: HTMLDialogElement; open(): void } {
  const confirmInput = h('input', { autocomplete: 'off', spellcheck: 'false' });
  const msg = messageLine();
  const yes = h('button', { type: 'submit', class: 'danger' }, 'Deactivate for good');
  const no = h('button', { type: 'button' }, 'Keep my account');
  const form = h(
    'form',
    { novalidate: true },
    h('h2', { id: 'deactivate-title' }, 'Deactivate your account?'),
    h('p', {}, 'Every token stops working at once, no new one can be had, and the name stays taken. Your objects stay.'),
    field(`Type ${session.user} to confirm`, confirmInput),
    msg.el,
    h('div', { class: 'row' }, no, yes),
  );
  const el = h('dialog', { 'aria-labelledby': 'deactivate-title' }, form);
  no.addEventListener('click', () => el.close());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (confirmInput.value.trim() !== session.user) return msg.error(`type ${session.user} to confirm`);
    api('PUT', userPath(session), { session }).then(
      () => {
        el.close();
        done();
      },
      (err: unknown) => msg.error(errText(err)),
    );
  });
  return {
    el,
    open() {
      confirmInput.value = '';
      msg.clear();
      el.showModal();
      confirmInput.focus();
    },
  };
}
