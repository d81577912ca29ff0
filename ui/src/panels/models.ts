import { api, type Model, type Session, userPath } from '../api.js';
import { age, bytes, field, h, messageLine } from '../dom.js';
import { checkName } from '../rules.js';
import { KeyedTable } from '../table.js';
import { deleteAction, errText, moreNote, options, type Panel, type PanelContext, section, showMore } from './common.js';

/** Makes a model from a finished job (docs/api.md#models); the sweeps panel makes one from a best trial the same way. */
export const makeModel = (session: Session, body: { name: string; src: string }) => api<Model>('POST', userPath(session, '/models'), { session, body });

/** Models: make one from a finished job, and the list. */
export function modelsPanel(ctx: PanelContext): Panel {
  const { session, refresh } = ctx;
  const modelName = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false' });
  const modelSrc = h('select', { required: true });
  const modelMsg = messageLine();
  const modelForm = h(
    'form',
    { novalidate: true, 'aria-label': 'Make a model' },
    h('div', { class: 'row' }, field('Model name', modelName), field('From finished job', modelSrc), h('button', { type: 'submit', class: 'primary' }, 'Make model')),
    modelMsg.el,
  );
  modelForm.addEventListener('submit', (e) => {
    e.preventDefault();
    modelMsg.clear();
    const body = { name: modelName.value.trim(), src: modelSrc.value };
    const problem = checkName('model', body.name) ?? (body.src ? undefined : 'choose a finished job');
    if (problem) return modelMsg.error(problem);
    makeModel(session, body).then(
      (m) => {
        modelMsg.ok(`model ${m.name} is ${m.state}`);
        modelName.value = '';
        void refresh();
      },
      (err: unknown) => modelMsg.error(errText(err)),
    );
  });
  const models = new KeyedTable<Model>(
    'Models',
    [
      { label: 'Name', value: (m) => m.name },
      { label: 'State', value: (m) => m.state + (m.msg ? ` — ${m.msg}` : '') },
      { label: 'Size', value: (m) => bytes(m.size) },
      { label: 'From job', value: (m) => m.src },
      { label: 'Age', value: (m) => age(m.created_at) },
    ],
    [
      deleteAction<Model>(
        ctx,
        'model',
        (m) => m.state === 'ready' || m.state === 'error',
        (m) => `/models/${m.name}`,
      ),
    ],
    'No models yet.',
  );
  const modelsMore = moreNote('models');
  const el = section('models', 'Models', modelForm, models.el, modelsMore);
  return {
    el,
    update(lists) {
      showMore(modelsMore, lists.models, 'models');
      models.update(lists.models.items);
      options(
        modelSrc,
        lists.jobs.items.filter((j) => j.state === 'finished').map((j) => j.name),
        'no finished job yet',
      );
    },
  };
}
