import { api, type App, userPath } from '../api.js';
import { age, field, h, messageLine } from '../dom.js';
import { checkName, checkResources } from '../rules.js';
import { KeyedTable } from '../table.js';
import { deleteAction, errText, moreNote, options, type Panel, type PanelContext, section, showMore } from './common.js';

/** Apps: deploy one from a ready model, the list, and one app's endpoint with a predict to try. */
export function appsPanel(ctx: PanelContext): Panel {
  const { session, refresh } = ctx;
  const appName = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false' });
  const appModel = h('select', { required: true });
  const appCpu = h('input', { type: 'number', min: 0.1, max: 10, step: 0.1, value: 0.5 });
  const appRam = h('input', { type: 'number', min: 100, max: 10000, step: 100, value: 500 });
  const appGpu = h('input', { type: 'number', min: 0, max: 16, step: 1, value: 0 });
  const appMsg = messageLine();
  const appForm = h(
    'form',
    { novalidate: true, 'aria-label': 'Deploy an app' },
    h(
      'div',
      { class: 'row' },
      field('App name', appName),
      field('Model', appModel),
      field('App CPU', appCpu),
      field('App RAM (Mi)', appRam),
      field('App GPU', appGpu),
      h('button', { type: 'submit', class: 'primary' }, 'Deploy app'),
    ),
    appMsg.el,
  );
  appForm.addEventListener('submit', (e) => {
    e.preventDefault();
    appMsg.clear();
    const body = { name: appName.value.trim(), model_name: appModel.value, cpu: Number(appCpu.value), ram: Number(appRam.value), gpu: Number(appGpu.value) };
    const problem = checkName('app', body.name) ?? (body.model_name ? undefined : 'choose a ready model') ?? checkResources(body);
    if (problem) return appMsg.error(problem);
    api<App>('POST', userPath(session, '/apps'), { session, body }).then(
      (a) => {
        appMsg.ok(`app ${a.name} is ${a.state}; it will answer at ${a.endpoint}`);
        appName.value = '';
        showApp(a.name);
        void refresh();
      },
      (err: unknown) => appMsg.error(errText(err)),
    );
  });
  const endpoint = h('input', { readonly: true, class: 'mono', id: 'app-endpoint' });
  const curlLine = h('pre', { class: 'cmd', tabindex: 0, 'aria-label': 'predict with curl' });
  const predictBody = h('textarea', { rows: 3, spellcheck: 'false', class: 'mono' });
  predictBody.value = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}';
  const predictOut = h('pre', { class: 'log', id: 'predict-output', tabindex: 0, 'aria-label': 'prediction', 'aria-live': 'polite' });
  const predictMsg = messageLine();
  const appTitle = h('h3', { tabindex: -1 }, '');
  let currentApp = '';
  const predictForm = h(
    'form',
    { novalidate: true, 'aria-label': 'Try predict' },
    field('Request (TensorFlow Serving: {"instances": …} or a list of rows)', predictBody),
    h('button', { type: 'submit', class: 'primary' }, 'Predict'),
    predictMsg.el,
    predictOut,
  );
  predictForm.addEventListener('submit', (e) => {
    e.preventDefault();
    predictMsg.clear();
    let body: unknown;
    try {
      body = JSON.parse(predictBody.value);
    } catch {
      return predictMsg.error('the request is not valid JSON');
    }
    if (Array.isArray(body)) body = { instances: body };
    predictOut.textContent = '…';
    // Same origin, with the owner's token (functions/web-app-predict): the app gateway is another
    // origin and sends no CORS headers, so a page cannot call it directly.
    api<unknown>('POST', userPath(session, `/apps/${currentApp}:predict`), { session, body }).then(
      (answer) => (predictOut.textContent = JSON.stringify(answer)),
      (err: unknown) => {
        predictOut.textContent = '';
        predictMsg.error(errText(err));
      },
    );
  });
  const appDetail = h(
    'div',
    { class: 'detail', hidden: true, id: 'app-detail' },
    appTitle,
    h('div', { class: 'row' }, field('Endpoint', endpoint, 'where the platform serves this app (MLP_APP_URL)')),
    h('p', {}, 'With curl (the app gateway needs your token):'),
    curlLine,
    predictForm,
  );
  const showApp = (name: string) => {
    currentApp = name;
    appDetail.hidden = false;
    appTitle.textContent = `App ${name}`;
    predictOut.textContent = '';
    predictMsg.clear();
    describeApp();
  };
  const describeApp = () => {
    const a = apps.item(currentApp);
    // The app's endpoint as the platform answers it (App.endpoint), never a guessed host or port.
    const url = a ? `${a.endpoint}/v1/models/${a.model_name}:predict` : '';
    endpoint.value = url;
    curlLine.textContent = `curl -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \\\n     -d '${predictBody.value.replace(/'/g, "'\\''")}' ${url}`;
    appDetail.dataset.state = a?.state ?? '';
  };
  predictBody.addEventListener('input', describeApp);
  const apps = new KeyedTable<App>(
    'Apps',
    [
      { label: 'Name', value: (a) => a.name },
      { label: 'State', value: (a) => a.state + (a.msg ? ` — ${a.msg}` : '') },
      { label: 'Model', value: (a) => a.model_name },
      { label: 'Port', value: (a) => String(a.port) },
      { label: 'Age', value: (a) => age(a.created_at) },
    ],
    [
      {
        label: 'Endpoint & predict',
        name: (a) => `Show endpoint and try predict of app ${a.name}`,
        enabled: () => true,
        run: (a) => {
          showApp(a.name);
          appTitle.focus();
        },
      },
      deleteAction<App>(
        ctx,
        'app',
        (a) => a.state === 'ready' || a.state === 'error',
        (a) => `/apps/${a.name}`,
      ),
    ],
    'No apps yet.',
  );
  const appsMore = moreNote('apps');
  const el = section('apps', 'Apps', appForm, apps.el, appsMore, appDetail);
  return {
    el,
    update(lists) {
      showMore(appsMore, lists.apps, 'apps');
      apps.update(lists.apps.items);
      options(
        appModel,
        lists.models.items.filter((m) => m.state === 'ready').map((m) => m.name),
        'no ready model yet',
      );
      if (currentApp) describeApp();
    },
  };
}
