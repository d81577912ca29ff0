// bench/report.json's shape, one figure's printed line, and the Markdown table docs/benchmarks.md holds
// between its bench markers. No timing happens here (test/bench/report.test.ts checks it).
import os from 'node:os';

export interface Figure {
  /** What was measured, e.g. "GET dataset, local gateway: req/s". */
  name: string;
  value: number;
  unit: string;
  /** The same-run baseline, when there is one. */
  baseline?: { name: string; value: number };
  /** value / baseline as a percentage ("%") or a multiple ("x"). */
  ratio?: { value: number; as: '%' | 'x' };
  /** e.g. ">= 50 %", "<= 80 MiB". */
  goal?: string;
  met?: boolean;
}

export interface BenchSection {
  title: string;
  figures: Figure[];
  notes: string[];
  at?: string;
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  date: string;
}

export interface Report {
  machine: Machine;
  benches: Record<string, BenchSection>;
}

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

export function machine(): Machine {
  return { cores: os.cpus().length, cpu: os.cpus()[0]?.model.trim() ?? 'unknown', node: process.version, date: new Date().toISOString() };
}

/** value as a ratio of baseline: a percentage (throughput) or a multiple (times, memory). */
export function ratio(value: number, baseline: number, as: '%' | 'x'): { value: number; as: '%' | 'x' } {
  const r = baseline === 0 ? Number.NaN : value / baseline;
  return { value: as === '%' ? 100 * r : r, as };
}

/** Whether `value` meets a goal written ">= n" or "<= n" (the number is compared with `of`: the ratio or the value). */
export function meets(goal: string, of: number): boolean {
  const m = /^\s*(>=|<=)\s*([\d.]+)/.exec(goal);
  if (!m?.[2]) throw new Error(`a goal must start with >= or <= and a number, got "${goal}"`);
  return m[1] === '>=' ? of >= Number(m[2]) : of <= Number(m[2]);
}

export function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

// A baseline of 0 (a p50 under the load tool's 1 ms resolution) has no ratio: say so, not "NaNx".
const ratioText = (r: Figure['ratio']) => (!r ? '' : !Number.isFinite(r.value) ? 'none (baseline 0)' : r.as === '%' ? `${num(r.value)} %` : `${num(r.value)}x`);
const verdict = (f: Figure) => (f.met === undefined ? '' : f.met ? 'met' : 'MISSED');

/** One printed line: the figure, its baseline, the ratio, the goal. */
export function formatFigure(f: Figure): string {
  const parts = [`  ${f.name.padEnd(52)} ${`${num(f.value)} ${f.unit}`.padStart(14)}`];
  if (f.baseline) parts.push(`baseline ${f.baseline.name} ${num(f.baseline.value)} ${f.unit}`);
  if (f.ratio) parts.push(`ratio ${ratioText(f.ratio)}`);
  if (f.goal) parts.push(`goal ${f.goal} ${verdict(f)}`);
  return parts.join(' | ');
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The Markdown table of a report: the machine, then one row per figure, then each bench's notes. */
export function renderTable(report: Report): string {
  const m = report.machine;
  // `npm run bench -- --only x` adds to an earlier run: say when the figures were taken, first to last.
  const times = Object.values(report.benches)
    .map((s) => s.at ?? m.date)
    .sort();
  const at = (iso: string) => iso.slice(0, 16).replace('T', ' ');
  const first = times[0] ?? m.date;
  const last = times[times.length - 1] ?? m.date;
  const when = at(first) === at(last) ? at(first) : `${at(first)} to ${at(last)}`;
  const lines = [`Measured ${when} UTC on ${m.cores} cores (${m.cpu}), Node ${m.node}.`, '', '| Benchmark | Figure | Value | Baseline (same run) | Ratio | Goal |', '|---|---|---|---|---|---|'];
  const notes: string[] = [];
  for (const [key, s] of Object.entries(report.benches)) {
    for (const f of s.figures) {
      const baseline = f.baseline ? `${cell(f.baseline.name)}: ${num(f.baseline.value)} ${f.unit}` : '';
      const goal = f.goal ? `${f.goal}${f.met === undefined ? '' : f.met ? ' ✓' : ' **missed**'}` : '';
      lines.push(`| ${key} | ${cell(f.name)} | ${num(f.value)} ${cell(f.unit)} | ${baseline} | ${ratioText(f.ratio)} | ${cell(goal)} |`);
    }
    for (const n of s.notes) notes.push(`- ${key}: ${n}`);
  }
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}

/** The document (docs/benchmarks.md) with only the region between the markers replaced; throws when a marker is missing. */
export function replaceRegion(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`docs/benchmarks.md needs ${START} and ${END} (in that order) around the bench table`);
  return `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`;
}
