import { queueWords } from '../../../shared/format/wait.js';
import { api, type Job, userPath } from '../api.js';
import { MetricsChart } from '../chart.js';
import { age, field, h, messageLine } from '../dom.js';
import { LogView } from '../log.js';
import { checkEntry, checkName, checkResources } from '../rules.js';
import { KeyedTable } from '../table.js';
import { putHome } from '../upload.js';
import { act, deleteAction, errText, moreNote, type Panel, type PanelContext, section, showMore } from './common.js';

/** Home and jobs: upload a script to the home, submit a job, the list, and one job's metrics and log. */
export function jobsPanel(ctx: PanelContext, compare: { show(jobs: string[], what: string): void }): Panel & { refreshHome(): Promise<void>; showJob(name: string): void } {
  const { session, refresh } = ctx;
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
  // A job with retries says which launch this is (docs/api.md#jobs: attempt is 0 before the first launch).
  const attempt = (j: Job) => (j.retries ? ` — attempt ${Math.max(1, j.attempt ?? 0)}/${j.retries + 1}` : '');
  const running = (j: Job) => j.state === 'creating' || j.state === 'running';
  const jobs = new KeyedTable<Job>(
    'Jobs',
    [
      { label: 'Name', value: (j) => j.name },
      { label: 'State', value: (j) => j.state + (j.queue ? ` — ${queueWords(j.queue)}` : '') + attempt(j) + (j.msg ? ` — ${j.msg}` : '') },
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
        run: (j) => act(ctx, () => api('PUT', userPath(session, `/jobs/${j.name}:stop`), { session, body: {} }), `job ${j.name} stopped`),
      },
      deleteAction<Job>(
        ctx,
        'job',
        (j) => j.state === 'finished' || j.state === 'error',
        (j) => `/jobs/${j.name}`,
      ),
    ],
    'No jobs yet.',
    { label: 'Compare', name: (j) => `Compare job ${j.name}`, changed: (names) => compare.show(names, 'ticked in the jobs table') },
  );
  const jobsMore = moreNote('jobs');
  const el = section('jobs', 'Jobs', homeForm, jobForm, jobs.el, jobsMore, jobDetail);
  async function refreshHome(): Promise<void> {
    const files = await api<{ path: string }[]>('GET', `/data/${encodeURIComponent(session.user)}/.home/`, { session }).catch(() => [] as { path: string }[]);
    homeList.replaceChildren(...files.map((f) => h('option', { value: f.path })));
  }
  return {
    el,
    update(lists) {
      showMore(jobsMore, lists.jobs, 'jobs');
      jobs.update(lists.jobs.items);
    },
    refreshHome,
    showJob(name) {
      showJob(name);
      jobTitle.focus();
    },
    stop() {
      chart.close();
      log.stop();
    },
  };
}
