import uPlot from 'uplot';
import type { JobMetrics, Session } from './api.js';
import { perFrame, plotSize } from './plot-frame.js';

/**
 * A job's accuracy and loss per epoch, live (docs/api.md#job-metrics): the metrics WebSocket sends the stored
 * history, then each new epoch. Points are kept by epoch, so a repeat (at-least-once delivery, or
 * the history again after a reconnect) replaces its point instead of adding one. Drawing happens
 * at most once per animation frame, however many messages arrive, so 10,000 epochs stay smooth.
 */
export class MetricsChart {
  readonly el: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly status: HTMLElement;
  private readonly epochs: number[] = [];
  private readonly accuracy: number[] = [];
  private readonly loss: number[] = [];
  private plot: uPlot | undefined;
  private ws: WebSocket | undefined;
  private readonly schedule = perFrame(() => this.draw());
  private retry = 0;
  private retryTimer = 0;
  private stopped = true;
  private draws = 0;
  private reconnects = 0;
  private readonly resize: ResizeObserver;

  constructor() {
    this.plotBox = document.createElement('div');
    this.plotBox.className = 'plot';
    this.status = document.createElement('p');
    this.status.className = 'chart-status';
    this.status.setAttribute('aria-live', 'polite');
    this.el = document.createElement('figure');
    this.el.className = 'chart';
    this.el.setAttribute('role', 'img');
    this.el.append(this.plotBox, this.status);
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(this.plotBox);
  }

  /** Opens the job's socket (closing any other) and draws what arrives. */
  open(session: Session, job: string): void {
    this.close();
    this.epochs.length = this.accuracy.length = this.loss.length = 0;
    this.reconnects = 0;
    this.stopped = false;
    this.el.dataset.job = job;
    this.el.setAttribute('aria-label', `accuracy and loss per epoch of job ${job}`);
    this.schedule();
    this.connect(session, job);
  }

  close(): void {
    this.stopped = true;
    window.clearTimeout(this.retryTimer);
    const ws = this.ws;
    this.ws = undefined;
    ws?.close(1000, 'closed by the page');
  }

  /** Adds or replaces one epoch's point, keeping the arrays sorted by epoch. */
  add(m: JobMetrics): void {
    if (!Number.isInteger(m.epoch) || typeof m.accuracy !== 'number' || typeof m.loss !== 'number') return;
    const n = this.epochs.length;
    // The usual case: the next epoch, appended.
    if (n === 0 || m.epoch > (this.epochs[n - 1] as number)) {
      this.epochs.push(m.epoch);
      this.accuracy.push(m.accuracy);
      this.loss.push(m.loss);
    } else {
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if ((this.epochs[mid] as number) < m.epoch) lo = mid + 1;
        else hi = mid;
      }
      if (this.epochs[lo] === m.epoch) {
        this.accuracy[lo] = m.accuracy;
        this.loss[lo] = m.loss;
      } else {
        this.epochs.splice(lo, 0, m.epoch);
        this.accuracy.splice(lo, 0, m.accuracy);
        this.loss.splice(lo, 0, m.loss);
      }
    }
    this.schedule();
  }

  private connect(session: Session, job: string): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    // Browsers cannot set headers on a WebSocket: the token goes as ?token= (docs/api.md#job-metrics).
    const url = `${scheme}://${location.host}/api/v1/users/${encodeURIComponent(session.user)}/job_metrics/${encodeURIComponent(job)}?token=${encodeURIComponent(session.token)}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.say(this.reconnects === 0 ? 'connecting…' : `reconnecting (${this.reconnects})…`);
    ws.onopen = () => {
      this.retry = 0;
      this.say('live');
    };
    ws.onmessage = (e) => {
      try {
        this.add(JSON.parse(String(e.data)) as JobMetrics);
      } catch {
        // A malformed message is skipped; the next one is drawn.
      }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws || this.stopped) return;
      this.ws = undefined;
      // 1008: the token was revoked or the socket refused; reconnecting would not help.
      if (e.code === 1008) return this.say(`closed: ${e.reason || 'refused'}`);
      const wait = Math.min(10_000, 500 * 2 ** this.retry);
      this.retry += 1;
      this.say(`connection lost; reconnecting in ${Math.round(wait / 100) / 10} s`);
      this.retryTimer = window.setTimeout(() => {
        this.reconnects += 1;
        this.el.dataset.reconnects = String(this.reconnects);
        this.connect(session, job);
      }, wait);
    };
  }

  private say(text: string): void {
    this.status.textContent = `${this.epochs.length} epochs · ${text}`;
    this.el.dataset.state = text;
  }

  private size(): { width: number; height: number } {
    return plotSize(this.plotBox, 260);
  }

  private draw(): void {
    this.draws += 1;
    const data: uPlot.AlignedData = [this.epochs, this.accuracy, this.loss];
    if (!this.plot) {
      this.plot = new uPlot(
        {
          ...this.size(),
          scales: { x: { time: false }, acc: { range: [0, 1] }, loss: { auto: true } },
          axes: [{ label: 'epoch' }, { scale: 'acc', label: 'accuracy' }, { scale: 'loss', label: 'loss', side: 1, grid: { show: false } }],
          series: [{ label: 'epoch' }, { label: 'accuracy', scale: 'acc', stroke: '#1f6feb', width: 2 }, { label: 'loss', scale: 'loss', stroke: '#d1242f', width: 2 }],
          cursor: { drag: { x: true, y: false } },
        },
        data,
        this.plotBox,
      );
    } else {
      this.plot.setData(data);
    }
    // What tests and assistive tools can read without looking at pixels.
    this.el.dataset.points = String(this.epochs.length);
    this.el.dataset.draws = String(this.draws);
    const last = this.epochs.length - 1;
    this.status.textContent = `${this.epochs.length} epochs${last >= 0 ? ` · last: epoch ${this.epochs[last]}, accuracy ${(this.accuracy[last] as number).toFixed(3)}, loss ${(this.loss[last] as number).toFixed(3)}` : ''} · ${this.el.dataset.state ?? ''}`;
  }
}
