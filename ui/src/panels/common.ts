import { ApiError, api, type App, type Dataset, type Job, type Listed, type Model, type Session, type Sweep, type Tenant, userPath } from '../api.js';
import { h, toast } from '../dom.js';
import type { Action } from '../table.js';

export const errText = (err: unknown) => (err instanceof ApiError ? err.message : ((err as Error).message ?? String(err)));

/** What every panel shares: the session, and the dashboard's refresh (one at a time, the dashboard owns the loop). */
export interface PanelContext {
  session: Session;
  refresh(): Promise<void>;
}

/** One refresh's worth of lists, fetched together by the dashboard and handed to each panel. */
export interface Lists {
  datasets: Listed<Dataset>;
  jobs: Listed<Job>;
  models: Listed<Model>;
  apps: Listed<App>;
  sweeps: Listed<Sweep>;
  tenant: Tenant;
}

/** A panel: its section, what it does with each refresh, and what it stops when the page goes. */
export interface Panel {
  el: HTMLElement;
  update?(lists: Lists): void;
  stop?(): void;
}

export function section(id: string, title: string, ...children: Node[]): HTMLElement {
  return h('section', { id, 'aria-labelledby': `${id}-title`, class: 'card' }, h('h2', { id: `${id}-title` }, title), ...children);
}

/** The line under a table that says only the first rows are shown (hidden otherwise). */
export function moreNote(kind: string): HTMLElement {
  const el = h('p', { class: 'hint more', id: `${kind}-more`, 'aria-live': 'polite' });
  el.hidden = true;
  return el;
}

export function showMore(el: HTMLElement, page: Listed<unknown>, kind: string): void {
  el.hidden = !page.more;
  const text = page.more ? `Showing the first ${page.items.length} ${kind}; there are more.` : '';
  if (el.textContent !== text) el.textContent = text;
}

/** Runs an action, then toasts its outcome and refreshes. */
export function act(ctx: PanelContext, what: () => Promise<unknown>, done: string): void {
  what().then(
    () => {
      toast(done);
      void ctx.refresh();
    },
    (err: unknown) => toast(errText(err)),
  );
}

export function deleteAction<T extends { name: string; state: string }>(ctx: PanelContext, kind: string, enabled: (t: T) => boolean, rest: (t: T) => string): Action<T> {
  const { session } = ctx;
  return {
    label: 'Delete',
    name: (t: T) => `Delete ${kind} ${t.name}`,
    enabled,
    run: (t: T) => act(ctx, () => api('DELETE', userPath(session, rest(t)), { session }), `${kind} ${t.name} is deleting`),
  };
}

/** Sets a select's options to names (or one empty option saying `empty`), keeping the choice when it is still there. */
export function options(select: HTMLSelectElement, names: string[], empty: string): void {
  const want = names.length ? names : [''];
  const have = [...select.options].map((o) => o.value);
  if (have.join('\n') === want.join('\n')) return;
  const keep = select.value;
  select.replaceChildren(...want.map((n) => h('option', { value: n }, n || empty)));
  if (names.includes(keep)) select.value = keep;
}
