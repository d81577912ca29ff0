import { ApiError, type App, api, type Dataset, type Job, list, type Model, type Session, type Sweep, type Tenant, userPath } from './api.js';
import { h, toast } from './dom.js';
import { accountPanel } from './panels/account.js';
import { appsPanel } from './panels/apps.js';
import { errText, type PanelContext } from './panels/common.js';
import { comparePanel } from './panels/compare.js';
import { datasetsPanel } from './panels/datasets.js';
import { jobsPanel } from './panels/jobs.js';
import { modelsPanel } from './panels/models.js';
import { sweepsPanel } from './panels/sweeps.js';
import { usagePanel } from './panels/usage.js';

const REFRESH_MS = 2000;

/** The user's page (docs/api.md#browser-ui): account, tenant usage, datasets, jobs, models, apps. */
export function dashboard(session: Session, onLogout: (notice?: string) => void): { el: HTMLElement; stop(): void } {
  let stopped = false;
  let timer = 0;
  const ctx: PanelContext = { session, refresh: () => refresh() };

  // Field ids (f-1, f-2, …) are handed out as the panels make their fields; nothing relies on their order.
  const account = accountPanel(session, onLogout);
  const usage = usagePanel();
  const datasets = datasetsPanel(ctx);
  // Made before the jobs and sweeps panels that hand it jobs, placed after them on the page.
  const compare = comparePanel(ctx);
  const jobs = jobsPanel(ctx, compare);
  const sweeps = sweepsPanel(ctx, jobs, compare);
  const models = modelsPanel(ctx);
  const apps = appsPanel(ctx);
  // The order each refresh reaches them: the tables first, then the compare view and the tenant's usage.
  const updated = [datasets, jobs, sweeps, models, apps, compare, usage];

  let refreshing: Promise<void> | undefined;
  function refresh(): Promise<void> {
    refreshing ??= (async () => {
      try {
        const [dsPage, jsPage, msPage, asPage, swPage, tenant] = await Promise.all([
          list<Dataset>(session, userPath(session, '/datasets')),
          list<Job>(session, userPath(session, '/jobs')),
          list<Model>(session, userPath(session, '/models')),
          list<App>(session, userPath(session, '/apps')),
          list<Sweep>(session, userPath(session, '/sweeps')),
          api<Tenant>('GET', '/api/v1/tenants/default', { session }),
        ]);
        if (stopped) return;
        const lists = { datasets: dsPage, jobs: jsPage, models: msPage, apps: asPage, sweeps: swPage, tenant };
        for (const panel of updated) panel.update?.(lists);
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
  void jobs.refreshHome();

  const nav = h(
    'nav',
    { class: 'toc', 'aria-label': 'Sections' },
    ...[
      ['account', 'Account'],
      ['usage', 'Usage'],
      ['datasets', 'Datasets'],
      ['jobs', 'Jobs'],
      ['sweeps', 'Sweeps'],
      ['compare', 'Compare'],
      ['models', 'Models'],
      ['apps', 'Apps'],
    ].map(([id, label]) => h('a', { href: `#${id}` }, label)),
  );
  return {
    el: h('div', { class: 'dash' }, nav, account.el, usage.el, datasets.el, jobs.el, sweeps.el, compare.el, models.el, apps.el),
    stop() {
      stopped = true;
      window.clearTimeout(timer);
      datasets.stop?.();
      jobs.stop?.();
    },
  };
}
