import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const rank: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines carry these fields too (e.g. the request id). */
  child(fields: Record<string, unknown>): Logger;
}

/** Keys every line has of its own (component aside: a child may name its own). */
const OWN_KEYS = ['time', 'level', 'msg'] as const;

/** Where log lines go: stdout, a file per component, or memory in tests. */
export type Sink = (line: string, component: string) => void;

export function createLogger(opts: { component: string; level?: Level; sinks: Sink[] }): Logger {
  const min = rank[opts.level ?? 'info'];
  const make = (bound: Record<string, unknown>): Logger => {
    const boundEmpty = Object.keys(bound).length === 0;
    const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
      if (rank[level] < min) return;
      // A child may name its own component (a function in the local runner): its lines go to its own file.
      const component = typeof bound.component === 'string' ? bound.component : opts.component;
      // The fields in one new object, as {...bound, ...fields} orders them, without the line's own
      // keys: deleting keys from it made JSON.stringify of every line slow (a dictionary object).
      const extra: Record<string, unknown> = {};
      let shown: unknown = component;
      let clash = false;
      const take = (from: Record<string, unknown>) => {
        for (const key in from) {
          if (key === 'component')
            shown = from[key]; // takes the key's place, as a spread would
          else if (key === 'time' || key === 'level' || key === 'msg') clash = true;
          else extra[key] = from[key];
        }
      };
      if (!boundEmpty) take(bound);
      if (fields) take(fields);
      // The line's own keys win: a field of the same name is kept as field_<name>.
      if (clash) {
        for (const key of OWN_KEYS) {
          if (fields && key in fields) extra[`field_${key}`] = fields[key];
          else if (key in bound) extra[`field_${key}`] = bound[key];
        }
      }
      // The fixed keys as text, the fields serialized once: the same line as JSON.stringify of the
      // whole (shared/core/log.test.ts).
      const rest = JSON.stringify(extra);
      const named = JSON.stringify(shown);
      const line = `{"time":"${isoTime(Date.now())}","level":"${level}",${named === undefined ? '' : `"component":${named},`}"msg":${JSON.stringify(msg)}${rest === '{}' ? '}' : `,${rest.slice(1)}`}`;
      for (const sink of opts.sinks) sink(line, component);
    };
    return {
      debug: (m, f) => write('debug', m, f),
      info: (m, f) => write('info', m, f),
      warn: (m, f) => write('warn', m, f),
      error: (m, f) => write('error', m, f),
      child: (fields) => make({ ...bound, ...fields }),
    };
  };
  return make({});
}

let second = Number.NaN;
let secondText = '';

/**
 * `new Date(ms).toISOString()`, with the text up to the second kept from the last call: a log
 * line's time was a tenth of a GET's CPU, toISOString being slow beside Date.now
 * (docs/benchmarks.md); only the milliseconds change between most lines.
 */
export function isoTime(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s !== second) {
    // 'YYYY-MM-DDTHH:mm:ss.' (or a six-digit year's longer form): all but 'sssZ'.
    secondText = new Date(s * 1000).toISOString().slice(0, -4);
    second = s;
  }
  const milli = ms - s * 1000;
  return `${secondText}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

export const stdoutSink: Sink = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * Appends to MLP_ROOT/log/{component}/{component}.log, as the storage plan says (docs/api.md#storage).
 * The lines of one event-loop turn go out as one synchronous append (as pino's default
 * destination does): a stream write per line cost a thread-pool round trip per request, a
 * large share of a GET's CPU under load (docs/benchmarks.md). An append to the page cache takes
 * microseconds; a failing one is reported on stderr, never silently dropped.
 */
export function fileSink(root: string): Sink & { close(): Promise<void> } {
  const files = new Map<string, number>();
  const pending = new Map<string, string[]>();
  let scheduled: NodeJS.Immediate | undefined;
  const fdOf = (component: string): number => {
    let fd = files.get(component);
    if (fd === undefined) {
      const dir = path.join(root, 'log', component);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(path.join(dir, `${component}.log`), 'a', 0o600);
      files.set(component, fd);
    }
    return fd;
  };
  const flush = () => {
    scheduled = undefined;
    for (const [component, lines] of pending) {
      try {
        writeSync(fdOf(component), lines.join(''));
      } catch (err) {
        process.stderr.write(`log file for ${component} failed: ${(err as Error).message}\n`);
      }
    }
    pending.clear();
  };
  const sink = (line: string, component: string) => {
    const lines = pending.get(component);
    if (lines) lines.push(`${line}\n`);
    else {
      // Opened now, so that a folder that cannot be made fails the caller as before.
      fdOf(component);
      pending.set(component, [`${line}\n`]);
    }
    scheduled ??= setImmediate(flush);
  };
  return Object.assign(sink, {
    close: async () => {
      if (scheduled) clearImmediate(scheduled);
      flush();
      for (const fd of files.values()) closeSync(fd);
      files.clear();
    },
  });
}

/** Collects lines in memory; tests read them. */
export function memorySink(): Sink & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign((line: string) => void lines.push(line), { lines });
}
