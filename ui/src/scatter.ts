import type { Trial } from './api.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 220;
const H = 150;
const PAD = { l: 40, r: 8, t: 8, b: 28 };

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 || (v !== 0 && Math.abs(v) < 0.01) ? v.toExponential(1) : String(Math.round(v * 1000) / 1000));

/**
 * One small SVG per parameter: each trial with a value is a dot at (its parameter value, its metric), the best one
 * ringed. Numbers go on a linear axis (log when they span over two decades, as a log range would), anything else
 * on evenly spaced categories. At most 1000 trials (docs/api.md#experiments), so plain SVG stays light.
 */
export function paramScatter(trials: Trial[], metric: string, best: string | undefined): HTMLElement {
  const wrap = document.createElement('div');
  wrap.className = 'scatter';
  const done = trials.filter((t) => typeof t.value === 'number');
  const params = [...new Set(trials.flatMap((t) => Object.keys(t.params)))];
  const ys = done.map((t) => t.value as number);
  const yLo = Math.min(...ys);
  const yHi = Math.max(...ys);
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (yHi === yLo ? 0.5 : 1 - (v - yLo) / (yHi - yLo));
  for (const name of params) {
    const values = done.map((t) => t.params[name]);
    const numeric = values.every((v) => typeof v === 'number');
    const nums = values as number[];
    const cats = numeric ? [] : [...new Set(values.map(String))];
    const lo = numeric ? Math.min(...nums) : 0;
    const hi = numeric ? Math.max(...nums) : Math.max(1, cats.length - 1);
    const log = numeric && lo > 0 && hi / lo > 100;
    const pos = (v: number) => (log ? Math.log10(v) : v);
    const x = (v: unknown) => {
      const n = numeric ? pos(v as number) : cats.indexOf(String(v));
      const [a, b] = numeric ? [pos(lo), pos(hi)] : [0, Math.max(1, cats.length - 1)];
      return PAD.l + (W - PAD.l - PAD.r) * (a === b ? 0.5 : (n - a) / (b - a));
    };
    const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': `${metric} against ${name}, ${done.length} trials`, 'data-param': name });
    plot.append(svg('line', { x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b, stroke: '#888' }), svg('line', { x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b, stroke: '#888' }));
    plot.append(svg('text', { x: (PAD.l + W) / 2, y: H - 4, 'text-anchor': 'middle', 'font-size': 11 }, log ? `${name} (log)` : name));
    if (done.length) {
      plot.append(
        svg('text', { x: PAD.l - 3, y: PAD.t + 8, 'text-anchor': 'end', 'font-size': 9 }, fmt(yHi)),
        svg('text', { x: PAD.l - 3, y: H - PAD.b, 'text-anchor': 'end', 'font-size': 9 }, fmt(yLo)),
      );
      const ticks: [unknown, string][] = numeric
        ? [
            [lo, fmt(lo)],
            [hi, fmt(hi)],
          ]
        : cats.map((c) => [c, c]);
      for (const [v, label] of ticks) plot.append(svg('text', { x: x(v), y: H - PAD.b + 11, 'text-anchor': 'middle', 'font-size': 9 }, label));
    }
    for (const t of done) {
      const isBest = t.job === best;
      const dot = svg('circle', { cx: x(t.params[name]), cy: y(t.value as number), r: isBest ? 5 : 3, fill: isBest ? '#1a7f37' : '#1f6feb', 'fill-opacity': 0.7, stroke: isBest ? '#000' : 'none' });
      dot.append(svg('title', {}, `${t.job}: ${name} = ${String(t.params[name])}, ${metric} ${fmt(t.value as number)}`));
      plot.append(dot);
    }
    wrap.append(plot);
  }
  wrap.dataset.dots = String(done.length * params.length);
  return wrap;
}
