type Child = Node | string | number | null | undefined | false;
type AttrValue = string | number | boolean | undefined | null | ((event: Event) => void);

/** Creates an element: `on…` attributes become listeners, `true` a bare attribute, false/undefined none. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, AttrValue> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(key, '');
    else if (value !== false && value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'number' ? String(c) : c);
}

let ids = 0;
/** A unique id, for label/for and aria-describedby pairs. */
export const uid = (prefix: string) => `${prefix}-${(ids += 1)}`;

/** A labelled field: the label, the control and a hint, wired for screen readers. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  control.id ||= uid('f');
  const wrap = h('div', { class: 'field' }, h('label', { for: control.id }, label), control);
  if (hint) {
    const hintId = uid('hint');
    control.setAttribute('aria-describedby', hintId);
    wrap.append(h('small', { id: hintId, class: 'hint' }, hint));
  }
  return wrap;
}

/** A message line that screen readers announce: errors as alerts, the rest politely. */
export function messageLine(): { el: HTMLElement; error(msg: string): void; ok(msg: string): void; clear(): void } {
  const el = h('p', { class: 'msg', 'aria-live': 'polite' });
  return {
    el,
    error(msg) {
      el.className = 'msg error';
      el.setAttribute('role', 'alert');
      el.textContent = msg;
    },
    ok(msg) {
      el.className = 'msg ok';
      el.removeAttribute('role');
      el.textContent = msg;
    },
    clear() {
      el.className = 'msg';
      el.textContent = '';
    },
  };
}

export function toast(text: string): void {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = text;
  el.classList.add('shown');
  window.setTimeout(() => el.classList.remove('shown'), 2500);
}

export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
