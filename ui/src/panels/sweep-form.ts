import { api, type Session, type Sweep, userPath } from '../api.js';
import { field, h, messageLine } from '../dom.js';
import { checkEntry, checkResources } from '../rules.js';
import { errText } from './common.js';

const EXAMPLE_SPACE = '{"lr": [0.001, 0.01, 0.1], "units": [8, 16]}';

/**
 * The form that starts a sweep (docs/api.md#experiments). The page checks only what it can say better than the API
 * (the name's pattern, that the space is a JSON object); the rest is the API's to refuse, and its msg is shown.
 */
export function sweepForm(session: Session, created: (s: Sweep) => void): HTMLFormElement {
  const name = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false', pattern: '[a-z]{1,40}' });
  const entry = h('input', { required: true, list: 'home-files', spellcheck: 'false' });
  const space = h('textarea', { rows: 3, cols: 48, spellcheck: 'false' });
  space.value = EXAMPLE_SPACE;
  const metric = h('select', {}, h('option', { value: 'accuracy' }, 'accuracy'), h('option', { value: 'loss' }, 'loss'));
  const goal = h('select', {}, h('option', { value: '' }, 'the metric’s own (max accuracy, min loss)'), h('option', { value: 'max' }, 'max'), h('option', { value: 'min' }, 'min'));
  const strategy = h('select', {}, h('option', { value: '' }, 'grid when every parameter is a list'), h('option', { value: 'grid' }, 'grid'), h('option', { value: 'random' }, 'random'));
  const trials = h('input', { type: 'number', min: 1, max: 1000, step: 1 });
  const parallel = h('input', { type: 'number', min: 1, max: 100, step: 1, value: 4 });
  const retries = h('input', { type: 'number', min: 0, max: 10, step: 1, value: 0 });
  const early = h('input', { type: 'checkbox' });
  const cpu = h('input', { type: 'number', min: 0.1, max: 10, step: 0.1, value: 1 });
  const ram = h('input', { type: 'number', min: 100, max: 10000, step: 100, value: 1000 });
  const msg = messageLine();
  const form = h(
    'form',
    { novalidate: true, 'aria-label': 'Start a sweep' },
    h(
      'div',
      { class: 'row' },
      field('Sweep name', name, 'lower-case letters; trials are named after it (namea, nameb, …)'),
      field('Sweep entry', entry, 'a script in your home; it reads its point with params()'),
      field('Metric', metric),
      field('Goal', goal),
    ),
    h('div', { class: 'row' }, field('Search space (JSON)', space, 'each parameter a list of values or a range {"min", "max", "log"?, "int"?}')),
    h(
      'div',
      { class: 'row' },
      field('Strategy', strategy),
      field('Trials', trials, 'random: how many points to draw'),
      field('Parallel', parallel),
      field('Retries per trial', retries),
      h('div', { class: 'field check' }, h('label', {}, early, ' Stop poor trials early (median rule)')),
      field('CPU per trial', cpu),
      field('RAM per trial (Mi)', ram),
      h('button', { type: 'submit', class: 'primary' }, 'Start sweep'),
    ),
    msg.el,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    msg.clear();
    let parsed: unknown;
    try {
      parsed = JSON.parse(space.value);
    } catch (err) {
      return msg.error(`the search space is not JSON: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return msg.error('the search space is a JSON object: {"parameter": [values…], …}');
    const body: Record<string, unknown> = {
      name: name.value.trim(),
      entry: entry.value.trim(),
      space: parsed,
      metric: metric.value,
      parallel: Number(parallel.value),
      retries: Number(retries.value),
      early_stop: early.checked,
      cpu: Number(cpu.value),
      ram: Number(ram.value),
    };
    if (goal.value) body.goal = goal.value;
    if (strategy.value) body.strategy = strategy.value;
    if (trials.value) body.trials = Number(trials.value);
    const problem =
      (/^[a-z]{1,40}$/.test(body.name as string) ? undefined : 'a sweep name is 1–40 lower-case letters') ??
      checkEntry(body.entry as string) ??
      checkResources({ cpu: body.cpu as number, ram: body.ram as number, gpu: 0 });
    if (problem) return msg.error(problem);
    api<Sweep>('POST', userPath(session, '/sweeps'), { session, body }).then(
      (s) => {
        msg.ok(`sweep ${s.name} is ${s.state} (${s.trials} trials)`);
        name.value = '';
        created(s);
      },
      (err: unknown) => msg.error(errText(err)),
    );
  });
  return form;
}
