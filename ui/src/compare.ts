import uPlot from 'uplot';
import { api, type JobMetrics, type Session, userPath } from './api.js';
import { perFrame, plotSize } from './plot-frame.js';

/** Points asked per job (docs/api.md#job-metrics: `points=` 2–10000, thinned evenly keeping the first and last). */
export const COMPARE_POINTS = 1000;
/** The most jobs one compare request takes (docs/api.md#job-metrics: `jobs=` 1–100). */
export const MAX_COMPARE = 100;

type Key = 'accuracy' | 'loss';

/** One colour per job, far apart for neighbours (golden-angle hues), the same for its accuracy and its loss. */
export const colour = (i: number) => `hsl(${Math.round((i * 137.508) % 360)} 70% 42%)`;

/**
 * Many jobs' accuracy and loss in one uPlot. History comes from `GET …/job_metrics?jobs=…&points=1000`. Live points
 * are not taken from one metrics WebSocket per job (ui/src/chart.ts follows a single job that way): up to 100
 * sockets, each sending every epoch, would cost far more than one thinned GET of the jobs still running, which the
 * dashboard's 2-second refresh loop (ui/src/dashboard.ts) asks for through `refresh()`. The runs are resampled onto
 * one epoch grid of at most COMPARE_POINTS columns, so the plot holds at most 1000 × 200 values whatever their
 * lengths, and it is drawn at most once per animation frame however many answers arrive.
 */
export class CompareChart {
  readonly el: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly status: HTMLElement;
  private jobs: string[] = [];
  private readonly runs = new Map<string, JobMetrics[]>();
  /** Fetches made of each compared job since it was seen ended. */
  private readonly after = new Map<string, number>();
  private plot: uPlot | undefined;
  private builtFor = '';
  private readonly schedule = perFrame(() => this.draw());
  private draws = 0;
  /** Bumped on every new set of jobs, so an answer for an older set is dropped. */
  private generation = 0;
  private readonly resize: ResizeObserver;

  constructor() {
    this.plotBox = document.createElement('div');
    this.plotBox.className = 'plot';
    this.legend = document.createElement('ul');
    this.legend.className = 'compare-legend';
    this.status = document.createElement('p');
    this.status.className = 'chart-status';
    this.status.setAttribute('aria-live', 'polite');
    this.el = document.createElement('figure');
    // Not .chart: that class names the one job's chart (ui/src/chart.ts), which pages and tests look up by it.
    this.el.className = 'compare-chart';
    this.el.setAttribute('role', 'img');
    this.el.append(this.plotBox, this.legend, this.status);
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(this.plotBox);
  }

  get names(): readonly string[] {
    return this.jobs;
  }

  /** Compares these jobs (at most MAX_COMPARE): their histories are fetched at once, known ones kept meanwhile. */
  async set(session: Session, jobs: string[]): Promise<void> {
    const want = [...new Set(jobs)].slice(0, MAX_COMPARE);
    if (want.join(',') === this.jobs.join(',')) return;
    this.generation += 1;
    this.jobs = want;
    for (const name of [...this.runs.keys()]) if (!want.includes(name)) this.runs.delete(name);
    for (const name of [...this.after.keys()]) if (!want.includes(name)) this.after.delete(name);
    this.el.setAttribute('aria-label', `accuracy and loss per epoch of ${want.length} jobs`);
    this.schedule();
    const fresh = want.filter((j) => !this.runs.has(j));
    if (fresh.length) await this.load(session, fresh);
  }

  /**
   * Fetches again the compared jobs still running, and each ended one twice more: its last epochs may have come
   * after the previous fetch, and the relay stores them shortly after the job ends (docs/api.md#job-metrics).
   */
  async refresh(session: Session, state: (job: string) => string | undefined): Promise<void> {
    const live = this.jobs.filter((j) => {
      const s = state(j);
      if (s === 'creating' || s === 'running') {
        this.after.delete(j);
        return true;
      }
      if (s !== 'finished' && s !== 'error') return false;
      const n = this.after.get(j) ?? 0;
      if (n >= 2) return false;
      this.after.set(j, n + 1);
      return true;
    });
    if (live.length) await this.load(session, live);
  }

  private async load(session: Session, jobs: string[]): Promise<void> {
    const generation = this.generation;
    const q = `?jobs=${jobs.map(encodeURIComponent).join(',')}&points=${COMPARE_POINTS}`;
    const got = await api<Record<string, JobMetrics[]>>('GET', userPath(session, `/job_metrics${q}`), { session });
    if (generation !== this.generation) return;
    for (const job of jobs) this.runs.set(job, got[job] ?? []);
    this.schedule();
  }

  private size(): { width: number; height: number } {
    return plotSize(this.plotBox, 300);
  }

  private draw(): void {
    this.draws += 1;
    const series = this.jobs.map((j) => this.runs.get(j) ?? []);
    const xs = epochGrid(series, COMPARE_POINTS);
    const data: uPlot.AlignedData = [xs, ...series.flatMap((s) => [sample(s, xs, 'accuracy'), sample(s, xs, 'loss')])];
    const key = this.jobs.join(',');
    if (!this.plot || this.builtFor !== key) {
      // A new set of series: uPlot fixes its series at construction, so the plot is built again.
      this.plot?.destroy();
      this.builtFor = key;
      this.plot = new uPlot(
        {
          ...this.size(),
          scales: { x: { time: false }, acc: { range: [0, 1] }, loss: { auto: true } },
          axes: [{ label: 'epoch' }, { scale: 'acc', label: 'accuracy (solid)' }, { scale: 'loss', label: 'loss (dashed)', side: 1, grid: { show: false } }],
          series: [
            { label: 'epoch' },
            ...this.jobs.flatMap((j, i) => [
              { label: `${j} accuracy`, scale: 'acc', stroke: colour(i), width: 1.5, points: { show: false } },
              { label: `${j} loss`, scale: 'loss', stroke: colour(i), width: 1, dash: [4, 3], points: { show: false } },
            ]),
          ],
          // The built-in legend redraws every series' value on each cursor move: too slow at 200 series.
          legend: { show: false },
          cursor: { drag: { x: true, y: false }, points: { show: false } },
        },
        data,
        this.plotBox,
      );
      this.legend.replaceChildren(
        ...this.jobs.map((j, i) => {
          const li = document.createElement('li');
          li.style.setProperty('--c', colour(i));
          li.textContent = j;
          return li;
        }),
      );
    } else {
      this.plot.setData(data);
    }
    // What tests and assistive tools can read without looking at pixels.
    const points = series.reduce((n, s) => n + s.length, 0);
    this.el.dataset.series = String(this.jobs.length);
    this.el.dataset.plotSeries = String(this.plot.series.length - 1);
    this.el.dataset.points = String(points);
    this.el.dataset.columns = String(xs.length);
    this.el.dataset.draws = String(this.draws);
    this.status.textContent = this.jobs.length ? `${this.jobs.length} jobs · ${points} points · up to epoch ${xs[xs.length - 1] ?? '—'}` : 'no jobs chosen';
  }
}

/** Every epoch any run has, or — when that is more than `max` — `max` epochs spread evenly over them. */
export function epochGrid(series: JobMetrics[][], max: number): number[] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  const all = new Set<number>();
  for (const s of series) {
    const first = s[0];
    const last = s[s.length - 1];
    if (!first || !last) continue;
    lo = Math.min(lo, first.epoch);
    hi = Math.max(hi, last.epoch);
    for (const m of s) {
      if (all.size > max) break;
      all.add(m.epoch);
    }
  }
  if (lo > hi) return [];
  if (all.size <= max) return [...all].sort((a, b) => a - b);
  const out: number[] = [];
  for (let i = 0; i < max; i++) {
    const e = Math.round(lo + ((hi - lo) * i) / (max - 1));
    if (out[out.length - 1] !== e) out.push(e);
  }
  return out;
}

/** A run's values at the grid's epochs: its latest point at or before each, null outside its own epochs. */
export function sample(s: JobMetrics[], xs: number[], key: Key): (number | null)[] {
  const out: (number | null)[] = new Array(xs.length).fill(null);
  const first = s[0];
  const last = s[s.length - 1];
  if (!first || !last) return out;
  let j = 0;
  xs.forEach((x, i) => {
    if (x < first.epoch || x > last.epoch) return;
    while (j + 1 < s.length && (s[j + 1] as JobMetrics).epoch <= x) j += 1;
    out[i] = (s[j] as JobMetrics)[key];
  });
  return out;
}
