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
    const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
      if (rank[level] < min) return;
      // A child may name its own component (a function in the local runner): its lines go to its own file.
      const component = typeof bound.component === 'string' ? bound.component : opts.component;
      const extra = { ...bound, ...fields };
      // The line's own keys win: a field of the same name is kept as field_<name>.
      for (const key of OWN_KEYS) {
        if (key in extra) {
          extra[`field_${key}`] = extra[key];
          delete extra[key];
        }
      }
      const line = JSON.stringify({ time: new Date().toISOString(), level, component, msg, ...extra });
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
