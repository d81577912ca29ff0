import t from 'tap';
import { createLogger, memorySink } from './log.js';

// Seen failing before the fix: a field named msg replaced the event ("refused" never appeared),
// and fields named level or time replaced the line's own.
t.test('the event, level and time win over fields of the same names, which are kept renamed', async (t) => {
  const sink = memorySink();
  const log = createLogger({ component: 'c', sinks: [sink] });
  log.info('refused', { status: 403, msg: 'job x not found', level: 'debug', time: 'yesterday' });
  const line = JSON.parse(sink.lines[0] as string) as Record<string, unknown>;
  t.match(line, { msg: 'refused', level: 'info', component: 'c', status: 403 });
  t.not(line.time, 'yesterday');
  t.ok(!Number.isNaN(Date.parse(line.time as string)), 'time is the line’s own');
  t.match(line, { field_msg: 'job x not found', field_level: 'debug', field_time: 'yesterday' });
});

t.test('a child’s bound fields cannot replace them either; a child still names its component', async (t) => {
  const sink = memorySink();
  const log = createLogger({ component: 'c', sinks: [sink] }).child({ msg: 'bound', component: 'fn', request_id: 'r' });
  log.warn('event');
  const line = JSON.parse(sink.lines[0] as string) as Record<string, unknown>;
  t.match(line, { msg: 'event', level: 'warn', component: 'fn', request_id: 'r', field_msg: 'bound' });
});

t.test('lines without clashing fields are unchanged', async (t) => {
  const sink = memorySink();
  createLogger({ component: 'c', sinks: [sink] }).error('boom', { err: 'x' });
  t.same(Object.keys(JSON.parse(sink.lines[0] as string) as object), ['time', 'level', 'component', 'msg', 'err']);
});
