import { CompareChart, MAX_COMPARE } from '../compare.js';
import { field, h, messageLine } from '../dom.js';
import { errText, type Panel, type PanelContext, section } from './common.js';

export interface ComparePanel extends Panel {
  /** Compares these jobs; `what` says where they came from (a sweep, the jobs table). */
  show(jobs: string[], what: string): void;
  readonly jobs: readonly string[];
}

/** Compare runs: chosen jobs' accuracy and loss overlaid (a sweep's trials, or jobs ticked in the jobs table). */
export function comparePanel(ctx: PanelContext): ComparePanel {
  const { session } = ctx;
  const chart = new CompareChart();
  const names = h('input', { spellcheck: 'false', autocapitalize: 'none' });
  const msg = messageLine();
  const source = h('p', { class: 'hint', id: 'compare-source' });
  const form = h(
    'form',
    { novalidate: true, 'aria-label': 'Compare runs by name' },
    h('div', { class: 'row' }, field('Jobs to compare', names, `names separated by commas, at most ${MAX_COMPARE}`), h('button', { type: 'submit' }, 'Compare')),
    msg.el,
  );
  const show = (jobs: string[], what: string) => {
    msg.clear();
    if (jobs.length > MAX_COMPARE) msg.error(`only the first ${MAX_COMPARE} of ${jobs.length} jobs are compared`);
    names.value = jobs.join(', ');
    source.textContent = jobs.length ? `Comparing ${Math.min(jobs.length, MAX_COMPARE)} jobs: ${what}.` : '';
    chart.set(session, jobs).catch((err: unknown) => msg.error(errText(err)));
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const jobs = names.value
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (!jobs.length) return msg.error('name at least one job');
    show(jobs, 'chosen by name');
  });
  const el = section('compare', 'Compare runs', form, source, chart.el);
  return {
    el,
    show,
    get jobs() {
      return chart.names;
    },
    update(lists) {
      const state = new Map(lists.jobs.items.map((j) => [j.name, j.state]));
      // Only runs going or just ended can have new points (a job beyond the listed rows is not followed live).
      chart.refresh(session, (job) => state.get(job)).catch((err: unknown) => msg.error(errText(err)));
    },
  };
}
