import { api, ApiError, list, userPath, type App, type Dataset, type Job, type Listed, type Model, type Session, type Tenant } from './api.js';
import { MetricsChart } from './chart.js';
import { age, bytes, field, h, messageLine, toast } from './dom.js';
import { LogView } from './log.js';
import { checkDatasetName, checkEntry, checkName, checkResources } from './rules.js';
import { KeyedTable } from './table.js';
import { Cancelled, firstBadPath, picked, putHome, uploadDataset } from './upload.js';

const REFRESH_MS = 2000;
const errText = (err: unknown) => (err instanceof ApiError ? err.message : ((err as Error).message ?? String(err)));

/** The user's page (docs/api.md#browser-ui): account, tenant usage, datasets, jobs, models, apps. */
export function dashboard(session: Session, onLogout: (notice?: string) => void): { el: HTMLElement; stop(): void } {
  const base = location.origin;
  let stopped = false;
  let timer = 0;

  // ---- account
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
  const account = section(
    'account',
    'Account',
    h('p', {}, 'Logged in as ', h('strong', { id: 'username' }, session.user), '.'),
    h('div', { class: 'row' }, field('API token', tokenInput, 'send it as Authorization: Bearer …'), copyButton),
    h('p', {}, 'Command line: ', h('a', { href: '/data_client.js' }, 'download data_client.js'), ', then'),
    h('pre', { class: 'cmd', id: 'login-line', tabindex: 0, 'aria-label': 'command to log in with the data client' }, loginLine),
    h('div', { class: 'row' }, deactivate),
    dialog.el,
  );

  // ---- tenant usage
  const bars = (['cpu', 'gpu', 'ram', 'rom'] as const).map((k) => {
    const bar = h('progress', { max: 1, value: 0, id: `usage-${k}` });
    const text = h('span', { class: 'usage-text' });
    return { k, bar, text, el: h('div', { class: 'usage' }, h('label', { for: bar.id }, k), bar, text) };
  });
  const usage = section('usage', 'Tenant usage', h('div', { class: 'usage-grid' }, ...bars.map((b) => b.el)));
  const showTenant = (t: Tenant) => {
    for (const b of bars) {
      const used = t[`${b.k}_inuse`];
      const cap = t[b.k];
      b.bar.max = cap || 1;
      b.bar.value = used;
      const fmt = b.k === 'rom' ? bytes : b.k === 'ram' ? (n: number) => `${n} Mi` : (n: number) => String(Math.round(n * 1000) / 1000);
      b.text.textContent = `${fmt(used)} of ${fmt(cap)}`;
      b.bar.setAttribute('aria-valuetext', b.text.textContent);
    }
  };

  // ---- datasets
  const dsName = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false' });
  const dsFiles = h('input', { type: 'file', multiple: true });
  const dsFolder = h('input', { type: 'file' });
  dsFolder.webkitdirectory = true;
  const dsMsg = messageLine();
  const upBar = h('progress', { max: 1, value: 0, id: 'upload-progress' });
  const upText = h('span', { class: 'usage-text' });
  const upCancel = h('button', { type: 'button' }, 'Cancel upload');
  const upBox = h('div', { class: 'row upload', hidden: true }, h('label', { for: upBar.id }, 'Upload'), upBar, upText, upCancel);
  let uploading: AbortController | undefined;
  upCancel.addEventListener('click', () => uploading?.abort());
  const dsForm = h(
    'form',
    { novalidate: true, 'aria-label': 'Create a dataset' },
    h(
      'div',
      { class: 'row' },
      field('Dataset name', dsName, 'a–z and ".", e.g. iris'),
      field('Files', dsFiles),
      field('or a folder', dsFolder),
      h('button', { type: 'submit', class: 'primary' }, 'Create and upload'),
    ),
    upBox,
    dsMsg.el,
  );
  dsForm.addEventListener('submit', (e) => {
    e.preventDefault();
    dsMsg.clear();
    const name = dsName.value.trim();
    const files = [...picked(dsFiles.files, false), ...picked(dsFolder.files, true)];
    const problem = checkDatasetName(name) ?? (files.length === 0 ? 'choose files or a folder to upload' : firstBadPath(files));
    if (problem) return dsMsg.error(problem);
    uploading = new AbortController();
    upBox.hidden = false;
    upBar.max = Math.max(
      1,
      files.reduce((s, f) => s + f.file.size, 0),
    );
    upBar.value = 0;
    uploadDataset(
      session,
      name,
      files,
      (sent, total, current) => {
        upBar.value = sent;
        upText.textContent = `${bytes(sent)} of ${bytes(total)} · ${current}`;
        upBar.setAttribute('aria-valuetext', upText.textContent);
        void refresh();
      },
      uploading.signal,
    )
      .then(
        () => {
          dsMsg.ok(`dataset ${name} is ready (${files.length} files)`);
          dsForm.reset();
        },
        (err: unknown) => (err instanceof Cancelled ? dsMsg.ok(`upload of ${name} cancelled; the dataset was removed`) : dsMsg.error(errText(err))),
      )
      .finally(() => {
        uploading = undefined;
        upBox.hidden = true;
        void refresh();
      });
  });
  const datasets = new KeyedTable<Dataset>(
    'Datasets',
    [
      { label: 'Name', value: (d) => d.name },
      { label: 'State', value: (d) => d.state + (d.msg ? ` — ${d.msg}` : '') },
      { label: 'Progress', value: (d) => `${d.progress}%` },
      { label: 'Size', value: (d) => bytes(d.size) },
      { label: 'Age', value: (d) => age(d.created_at) },
    ],
    [
      deleteAction(
        'dataset',
        (d) => d.state === 'ready' || d.state === 'error',
        (d) => `/datasets/${d.name}`,
      ),
    ],
    'No datasets yet.',
  );
  const dsMore = moreNote('datasets');
  const dsSection = section('datasets', 'Datasets', dsForm, datasets.el, dsMore);

  // ---- home and jobs
  const homeFile = h('input', { type: 'file' });
  const homeMsg = messageLine();
  const homeList = h('datalist', { id: 'home-files' });
  const homeForm = h(
    'form',
    { novalidate: true, 'aria-label': 'Upload a script to your home' },
    h('div', { class: 'row' }, field('Script for your home', homeFile, 'training scripts run from your home'), h('button', { type: 'submit' }, 'Upload to home')),
    homeMsg.el,
  );
  homeForm.addEventListener('submit', (e) => {
    e.preventDefault();
    homeMsg.clear();
    const file = homeFile.files?.[0];
    if (!file) return homeMsg.error('choose a file to upload');
    putHome(session, file, new AbortController().signal).then(
      () => {
        homeMsg.ok(`stored .home/${file.name}`);
        jobEntry.value ||= file.name;
        homeForm.reset();
        void refreshHome();
      },
      (err: unknown) => homeMsg.error(errText(err)),
    );
  });
  const jobName = h('input', { required: true, autocapitalize: 'none', spellcheck: 'false' });
  const jobEntry = h('input', { required: true, list: 'home-files', spellcheck: 'false' });
  const jobCpu = h('input', { type: 'number', min: 0.1, max: 10, step: 0.1, value: 1 });
  const jobRam = h('input', { type: 'number', min: 100, max: 10000, step: 100, value: 1000 });
  const jobGpu = h('input', { type: 'number', min: 0, max: 16, step: 1, value: 0 });
  // tf: TensorFlow/Keras and scikit-learn for .py, TensorFlow.js for .mjs/.js; torch: PyTorch for .py.
  const jobRuntime = h('select', {}, h('option', { value: 'tf' }, 'tf (TensorFlow, Keras, scikit-learn)'), h('option', { value: 'torch' }, 'torch (PyTorch)'));
  const jobMsg = messageLine();
  const jobForm = h(
    'form',
    { novalidate: true, 'aria-label': 'Submit a job' },
    h(
      'div',
      { class: 'row' },
      field('Job name', jobName),
      field('Entry script', jobEntry, 'a path in your home, e.g. train.py or train.mjs'),
      field('Runtime', jobRuntime),
      field('CPU', jobCpu),
      field('RAM (Mi)', jobRam),
      field('GPU', jobGpu),
      h('button', { type: 'submit', class: 'primary' }, 'Submit job'),
    ),
    jobMsg.el,
    homeList,
  );
  jobForm.addEventListener('submit', (e) => {
    e.preventDefault();
    jobMsg.clear();
    const body = { name: jobName.value.trim(), entry: jobEntry.value.trim(), runtime: jobRuntime.value, cpu: Number(jobCpu.value), ram: Number(jobRam.value), gpu: Number(jobGpu.value) };
    const problem = checkName('job', body.name) ?? checkEntry(body.entry) ?? checkResources(body);
    if (problem) return jobMsg.error(problem);
    api<Job>('POST', userPath(session, '/jobs'), { session, body }).then(
      (job) => {
        jobMsg.ok(`job ${job.name} is ${job.state}${job.msg ? ` (${job.msg})` : ''}`);
        jobName.value = '';
        showJob(job.name);
        void refresh();
      },
      (err: unknown) => jobMsg.error(errText(err)),
    );
  });
  const chart = new MetricsChart();
  const log = new LogView();
  const jobTitle = h('h3', { id: 'job-detail-title', tabindex: -1 }, '');
  const jobDetail = h('div', { class: 'detail', hidden: true, id: 'job-detail' }, jobTitle, chart.el, h('h4', {}, 'Log'), log.el);
  const showJob = (name: string) => {
    jobDetail.hidden = false;
    jobTitle.textContent = `Job ${name}`;
    chart.open(session, name);
    void log.follow(session, name);
  };
  const running = (j: Job) => j.state === 'creating' || j.state === 'running';
  const jobs = new KeyedTable<Job>(
    'Jobs',
    [
      { label: 'Name', value: (j) => j.name },
      { label: 'State', value: (j) => j.state + (j.msg ? ` — ${j.msg}` : '') },
      { label: 'Progress', value: (j) => `${j.progress}%` },
      { label: 'Entry', value: (j) => `${j.entry} (${j.runtime})` },
      { label: 'Age', value: (j) => age(j.created_at) },
    ],
    [
      {
        label: 'Metrics & log',
        name: (j) => `Show metrics and log of job ${j.name}`,
        enabled: () => true,
        run: (j) => {
          showJob(j.name);
          jobTitle.focus();
        },
      },
      {
        label: 'Stop',
        name: (j) => `Stop job ${j.name}`,
        enabled: running,
        run: (j) => act(() => api('PUT', userPath(session, `/jobs/${j.name}:stop`), { session, body: {} }), `job ${j.name} stopped`),
      },
      deleteAction(
        'job',
        (j) => j.state === 'finished' || j.state === 'error',
        (j) => `/jobs/${j.name}`,
      ),
    ],
    'No jobs yet.',
  );
  const jobsMore = moreNote('jobs');
  const jobsSection = section('jobs', 'Jobs', homeForm, jobForm, jobs.el, jobsMore, jobDetail);

  // ---- models
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
    api<Model>('POST', userPath(session, '/models'), { session, body }).then(
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
      deleteAction(
        'model',
        (m) => m.state === 'ready' || m.state === 'error',
        (m) => `/models/${m.name}`,
      ),
    ],
    'No models yet.',
  );
  const modelsMore = moreNote('models');
  const modelsSection = section('models', 'Models', modelForm, models.el, modelsMore);

  // ---- apps
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
      deleteAction(
        'app',
        (a) => a.state === 'ready' || a.state === 'error',
        (a) => `/apps/${a.name}`,
      ),
    ],
    'No apps yet.',
  );
  const appsMore = moreNote('apps');
  const appsSection = section('apps', 'Apps', appForm, apps.el, appsMore, appDetail);

  // ---- refresh
  function deleteAction<T extends { name: string; state: string }>(kind: string, enabled: (t: T) => boolean, rest: (t: T) => string) {
    return { label: 'Delete', name: (t: T) => `Delete ${kind} ${t.name}`, enabled, run: (t: T) => act(() => api('DELETE', userPath(session, rest(t)), { session }), `${kind} ${t.name} is deleting`) };
  }
  function act(what: () => Promise<unknown>, done: string): void {
    what().then(
      () => {
        toast(done);
        void refresh();
      },
      (err: unknown) => toast(errText(err)),
    );
  }
  function options(select: HTMLSelectElement, names: string[], empty: string): void {
    const want = names.length ? names : [''];
    const have = [...select.options].map((o) => o.value);
    if (have.join('\n') === want.join('\n')) return;
    const keep = select.value;
    select.replaceChildren(...want.map((n) => h('option', { value: n }, n || empty)));
    if (names.includes(keep)) select.value = keep;
  }
  async function refreshHome(): Promise<void> {
    const files = await api<{ path: string }[]>('GET', `/data/${encodeURIComponent(session.user)}/.home/`, { session }).catch(() => [] as { path: string }[]);
    homeList.replaceChildren(...files.map((f) => h('option', { value: f.path })));
  }
  let refreshing: Promise<void> | undefined;
  function refresh(): Promise<void> {
    refreshing ??= (async () => {
      try {
        const [dsPage, jsPage, msPage, asPage, tenant] = await Promise.all([
          list<Dataset>(session, userPath(session, '/datasets')),
          list<Job>(session, userPath(session, '/jobs')),
          list<Model>(session, userPath(session, '/models')),
          list<App>(session, userPath(session, '/apps')),
          api<Tenant>('GET', '/api/v1/tenants/default', { session }),
        ]);
        if (stopped) return;
        const [ds, js, ms, as] = [dsPage.items, jsPage.items, msPage.items, asPage.items];
        // Lists come in pages (?limit=200, Link rel="next"); past MAX_ROWS the table says so.
        showMore(dsMore, dsPage, 'datasets');
        showMore(jobsMore, jsPage, 'jobs');
        showMore(modelsMore, msPage, 'models');
        showMore(appsMore, asPage, 'apps');
        datasets.update(ds);
        jobs.update(js);
        models.update(ms);
        apps.update(as);
        showTenant(tenant);
        options(
          modelSrc,
          js.filter((j) => j.state === 'finished').map((j) => j.name),
          'no finished job yet',
        );
        options(
          appModel,
          ms.filter((m) => m.state === 'ready').map((m) => m.name),
          'no ready model yet',
        );
        if (currentApp) describeApp();
        document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed ?? 0) + 1);
      } catch (err) {
        if (stopped) return;
        // A token that stopped working (logout elsewhere, deactivation, expiry) ends the session.
        if (err instanceof ApiError && err.status === 403 && (err.code === 'TOKEN_INVALID' || err.code === 'UNAUTHENTICATED')) return onLogout(err.message);
        toast(errText(err));
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  }
  const loop = () => {
    if (stopped) return;
    void refresh().finally(() => {
      if (!stopped) timer = window.setTimeout(loop, document.hidden ? REFRESH_MS * 5 : REFRESH_MS);
    });
  };
  loop();
  void refreshHome();

  const nav = h(
    'nav',
    { class: 'toc', 'aria-label': 'Sections' },
    ...[
      ['account', 'Account'],
      ['usage', 'Usage'],
      ['datasets', 'Datasets'],
      ['jobs', 'Jobs'],
      ['models', 'Models'],
      ['apps', 'Apps'],
    ].map(([id, label]) => h('a', { href: `#${id}` }, label)),
  );
  return {
    el: h('div', { class: 'dash' }, nav, account, usage, dsSection, jobsSection, modelsSection, appsSection),
    stop() {
      stopped = true;
      window.clearTimeout(timer);
      uploading?.abort();
      chart.close();
      log.stop();
    },
  };
}

/** The line under a table that says only the first rows are shown (hidden otherwise). */
function moreNote(kind: string): HTMLElement {
  const el = h('p', { class: 'hint more', id: `${kind}-more`, 'aria-live': 'polite' });
  el.hidden = true;
  return el;
}

function showMore(el: HTMLElement, page: Listed<unknown>, kind: string): void {
  el.hidden = !page.more;
  const text = page.more ? `Showing the first ${page.items.length} ${kind}; there are more.` : '';
  if (el.textContent !== text) el.textContent = text;
}

function section(id: string, title: string, ...children: Node[]): HTMLElement {
  return h('section', { id, 'aria-labelledby': `${id}-title`, class: 'card' }, h('h2', { id: `${id}-title` }, title), ...children);
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
