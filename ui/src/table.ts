import { h } from './dom.js';

export interface Column<T> {
  label: string;
  value(item: T): string;
}

/** A checkbox in each row's actions cell (its last, so the data columns keep their places). */
export interface Selection<T> {
  label: string;
  /** The accessible name, e.g. "Compare job iris". */
  name(item: T): string;
  changed(selected: string[]): void;
}

export interface Action<T> {
  label: string;
  /** The accessible name, e.g. "Delete dataset iris". */
  name(item: T): string;
  enabled(item: T): boolean;
  run(item: T, button: HTMLButtonElement): void;
}

/**
 * A table keyed by name that updates in place: rows are added, changed and removed without
 * rebuilding the rest, so a focused button keeps its focus while the lists refresh.
 */
export class KeyedTable<T extends { name: string }> {
  readonly el: HTMLTableElement;
  private readonly body: HTMLTableSectionElement;
  private readonly rows = new Map<string, { tr: HTMLTableRowElement; cells: HTMLTableCellElement[]; buttons: HTMLButtonElement[]; item: T }>();
  private readonly empty: HTMLTableRowElement;
  /** The ticked rows' names, in the order they were ticked. */
  readonly selected = new Set<string>();

  constructor(
    caption: string,
    private readonly columns: Column<T>[],
    private readonly actions: Action<T>[],
    emptyText: string,
    private readonly selection?: Selection<T>,
  ) {
    this.body = h('tbody');
    this.empty = h('tr', { class: 'empty' }, h('td', { colspan: columns.length + 1 }, emptyText));
    this.body.append(this.empty);
    this.el = h(
      'table',
      {},
      h('caption', { class: 'sr-only' }, caption),
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c.label)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
      this.body,
    );
  }

  get size(): number {
    return this.rows.size;
  }

  item(name: string): T | undefined {
    return this.rows.get(name)?.item;
  }

  update(items: T[]): void {
    const seen = new Set<string>();
    let before: Element | null = this.body.firstElementChild === this.empty ? this.empty.nextElementSibling : this.body.firstElementChild;
    for (const item of items) {
      seen.add(item.name);
      let row = this.rows.get(item.name);
      if (!row) {
        const cells = this.columns.map(() => h('td'));
        const buttons = this.actions.map((a) => {
          const b = h('button', { type: 'button', class: 'small' }, a.label);
          b.addEventListener('click', () => {
            const current = this.rows.get(item.name)?.item;
            if (current && a.enabled(current)) a.run(current, b);
          });
          return b;
        });
        const sel = this.selection;
        let tick: HTMLElement | null = null;
        if (sel) {
          const box = h('input', { type: 'checkbox', 'aria-label': sel.name(item) });
          box.checked = this.selected.has(item.name);
          box.addEventListener('change', () => {
            if (box.checked) this.selected.add(item.name);
            else this.selected.delete(item.name);
            sel.changed([...this.selected]);
          });
          tick = h('label', { class: 'tick' }, box, ` ${sel.label}`);
        }
        const tr = h('tr', { 'data-name': item.name }, ...cells, h('td', { class: 'actions' }, tick, ...buttons));
        row = { tr, cells, buttons, item };
        this.rows.set(item.name, row);
      }
      row.item = item;
      this.columns.forEach((c, i) => {
        const text = c.value(item);
        const cell = row.cells[i];
        if (cell && cell.textContent !== text) cell.textContent = text;
      });
      this.actions.forEach((a, i) => {
        const b = row.buttons[i];
        if (!b) return;
        b.disabled = !a.enabled(item);
        b.setAttribute('aria-label', a.name(item));
      });
      if (row.tr !== before) this.body.insertBefore(row.tr, before);
      before = row.tr.nextElementSibling;
    }
    for (const [name, row] of this.rows) {
      if (seen.has(name)) continue;
      row.tr.remove();
      this.rows.delete(name);
      this.selected.delete(name);
    }
    this.empty.hidden = this.rows.size > 0;
  }
}
