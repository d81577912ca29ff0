import { api, type Sweep, type Trial, userPath } from '../api.js';
import { age, field, h, messageLine } from '../dom.js';
import { checkName } from '../rules.js';
import { paramScatter } from '../scatter.js';
import { KeyedTable } from '../table.js';
import { act, deleteAction, errText, moreNote, type Panel, type PanelContext, section, showMore } from './common.js';
import type { ComparePanel } from './compare.js';
import { makeModel } from './models.js';
import { sweepForm } from './sweep-form.js';

const fmt = (v: number | null | undefined) => (typeof v === 'number' ? String(Math.round(v * 10000) / 10000) : '—');
const paramText = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(', ');

/** Trials with a value first, best first for the sweep's goal; the rest in trial order. */
export function byMetric(trials: Trial[], goal: 'max' | 'min'): Trial[] {
  const sign = goal === 'max' ? -1 : 1;
  return trials
    .map((t, i) => ({ t, i }))
    .sort((a, b) => {
      const av = a.t.value;
      const bv = b.t.value;
      if (av === null && bv === null) return a.i - b.i;
      if (av === null) return 1;
      if (bv === null) return -1;
      return sign * (av - bv) || a.i - b.i;
    })
    .map((x) => x.t);
}

/**
 * Sweeps (docs/api.md#experiments): start one from the form, the list, and one sweep's trials sorted by its metric
 * with the best marked, each trial's job opening the jobs panel's detail, a scatter of each parameter against the
 * metric, a model from the best trial, and its trials overlaid in the compare view.
 */
export function sweepsPanel(ctx: PanelContext, jobs: { showJob(name: string): void }, compare: ComparePanel): Panel {
  const { session, refresh } = ctx;
  let open: string | undefined;
  let current: Sweep | undefined;
  let trials: Trial[] = [];
  let loading = false;
  let drawn = '';
  /** Whether the compare view follows this sweep's trials: until jobs are chosen there some other way. */
  let followCompare = false;
  let lastCompared = '';

  const form = sweepForm(session, (s) => {
    void refresh();
    show(s.name);
  });
  const title = h('h3', { id: 'sweep-detail-title', tabindex: -1 }, '');
  const summary = h('p', { id: 'sweep-summary' });
  const trialRows = h('tbody');
  const valueHead = h('th', { scope: 'col' }, 'Value');
  const trialTable = h(
    'table',
    { id: 'trials' },
    h('caption', { class: 'sr-only' }, 'Trials, best first'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Trial job'), h('th', { scope: 'col' }, 'State'), valueHead, h('th', { scope: 'col' }, 'Epoch'), h('th', { scope: 'col' }, 'Parameters'))),
    trialRows,
  );
  const scatterBox = h('div', { id: 'sweep-scatter', class: 'scatters' });
  const modelName = h('input', { autocapitalize: 'none', spellcheck: 'false' });
  const modelMsg = messageLine();
  const modelButton = h('button', { type: 'submit', class: 'primary' }, 'Make a model of the best trial');
  const modelForm = h('form', { novalidate: true, 'aria-label': 'Make a model of the best trial' }, h('div', { class: 'row' }, field('Name of the new model', modelName), modelButton), modelMsg.el);
  modelForm.addEventListener('submit', (e) => {
    e.preventDefault();
    modelMsg.clear();
    const best = current?.best?.job;
    if (!best) return modelMsg.error('no trial has a value yet');
    const name = modelName.value.trim();
    const problem = checkName('model', name) ?? (trials.find((t) => t.job === best)?.state === 'finished' ? undefined : `the best trial ${best} has not finished yet`);
    if (problem) return modelMsg.error(problem);
    makeModel(session, { name, src: best }).then(
      (m) => {
        modelMsg.ok(`model ${m.name} is ${m.state} (from trial ${best})`);
        void refresh();
      },
      (err: unknown) => modelMsg.error(errText(err)),
    );
  });
  const compareButton = h('button', { type: 'button' }, 'Compare its trials');
  compareButton.addEventListener('click', () => {
    followCompare = true;
    compareTrials();
    document.getElementById('compare')?.scrollIntoView();
  });
  const detail = h('div', { class: 'detail', hidden: true, id: 'sweep-detail' }, title, summary, compareButton, trialTable, h('h4', {}, 'Each parameter against the metric'), scatterBox, modelForm);
  const compareTrials = () => {
    const started = trials.filter((t) => t.state !== 'pending').map((t) => t.job);
    if (!open || !started.length) return;
    compare.show(started, `the trials of sweep ${open}`);
    lastCompared = compare.jobs.join(',');
  };

  function draw(): void {
    if (!current) return;
    const key = JSON.stringify([current.best, current.state, trials]);
    if (key === drawn) return;
    drawn = key;
    const best = current.best?.job;
    summary.textContent = `${current.state}${current.msg ? ` — ${current.msg}` : ''} · ${current.progress}% of ${current.trials} trials ended · ${current.goal} ${current.metric}${
      current.best ? ` · best ${current.best.job}: ${fmt(current.best.value)} at epoch ${current.best.epoch}` : ''
    }`;
    valueHead.textContent = `${current.metric} (${current.goal})`;
    trialRows.replaceChildren(
      ...byMetric(trials, current.goal).map((t) => {
        const link = h('a', { href: '#job-detail', 'aria-label': `Show metrics and log of trial ${t.job}` }, t.job);
        link.addEventListener('click', (e) => {
          e.preventDefault();
          jobs.showJob(t.job);
        });
        const isBest = t.job === best;
        return h(
          'tr',
          { 'data-job': t.job, class: isBest ? 'best' : undefined },
          h('td', {}, t.state === 'pending' ? t.job : link, isBest ? h('strong', { class: 'best-mark' }, ' ★ best') : null),
          h('td', {}, t.state),
          h('td', {}, fmt(t.value)),
          h('td', {}, t.epoch === null ? '—' : String(t.epoch)),
          h('td', {}, paramText(t.params)),
        );
      }),
    );
    scatterBox.replaceChildren(paramScatter(trials, current.metric, best));
    modelButton.disabled = !best;
    if (best && !modelName.value) modelName.value = current.name;
    detail.dataset.trials = String(trials.filter((t) => t.state !== 'pending').length);
  }

  async function load(): Promise<void> {
    const name = open;
    if (!name || loading) return;
    loading = true;
    try {
      const [s, ts] = await Promise.all([api<Sweep>('GET', userPath(session, `/sweeps/${name}`), { session }), api<Trial[]>('GET', userPath(session, `/sweeps/${name}/trials`), { session })]);
      if (open !== name) return;
      current = s;
      trials = ts;
      draw();
      if (followCompare && lastCompared && compare.jobs.join(',') !== lastCompared) followCompare = false;
      if (
        followCompare &&
        lastCompared !==
          trials
            .filter((t) => t.state !== 'pending')
            .map((t) => t.job)
            .join(',')
      )
        compareTrials();
    } catch (err) {
      summary.textContent = errText(err);
    } finally {
      loading = false;
    }
  }

  function show(name: string): void {
    open = name;
    drawn = '';
    trials = [];
    current = undefined;
    followCompare = true;
    lastCompared = '';
    modelName.value = '';
    modelMsg.clear();
    detail.hidden = false;
    title.textContent = `Sweep ${name}`;
    trialRows.replaceChildren();
    scatterBox.replaceChildren();
    void load();
  }

  const running = (s: Sweep) => s.state === 'running';
  const table = new KeyedTable<Sweep>(
    'Sweeps',
    [
      { label: 'Name', value: (s) => s.name },
      { label: 'State', value: (s) => s.state + (s.msg ? ` — ${s.msg}` : '') },
      { label: 'Progress', value: (s) => `${s.progress}% of ${s.trials}` },
      { label: 'Metric', value: (s) => `${s.goal} ${s.metric}` },
      { label: 'Best', value: (s) => (s.best ? `${s.best.job}: ${fmt(s.best.value)} (epoch ${s.best.epoch})` : '—') },
      { label: 'Age', value: (s) => age(s.created_at) },
    ],
    [
      {
        label: 'Trials',
        name: (s) => `Show trials of sweep ${s.name}`,
        enabled: () => true,
        run: (s) => {
          show(s.name);
          title.focus();
        },
      },
      {
        label: 'Stop',
        name: (s) => `Stop sweep ${s.name}`,
        enabled: running,
        run: (s) => act(ctx, () => api('PUT', userPath(session, `/sweeps/${s.name}:stop`), { session, body: {} }), `sweep ${s.name} stopping`),
      },
      deleteAction<Sweep>(
        ctx,
        'sweep',
        (s) => s.state === 'finished' || s.state === 'error',
        (s) => `/sweeps/${s.name}`,
      ),
    ],
    'No sweeps yet.',
  );
  const more = moreNote('sweeps');
  const el = section('sweeps', 'Sweeps', form, table.el, more, detail);
  return {
    el,
    update(lists) {
      showMore(more, lists.sweeps, 'sweeps');
      table.update(lists.sweeps.items);
      if (open && !lists.sweeps.items.some((s) => s.name === open)) {
        open = undefined;
        detail.hidden = true;
      }
      void load();
    },
  };
}
