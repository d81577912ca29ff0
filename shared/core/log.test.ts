import t from 'tap';
import { createLogger, isoTime, memorySink } from './log.js';

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

t.test('a line is the text JSON.stringify gives the whole of it, whatever the fields and the child', async (t) => {
  const cases: { bound: Record<string, unknown>; msg: string; fields?: Record<string, unknown> }[] = [
    { bound: {}, msg: 'handled', fields: { request_id: 'r', method: 'GET', path: '/a', status: 200 } },
    { bound: { component: 'fn' }, msg: 'say "hi"\n', fields: { nested: { a: [1, 'é'] }, gone: undefined } },
    { bound: { request_id: 'r' }, msg: 'no fields' },
    { bound: {}, msg: 'given component', fields: { component: 'other', time: 'x' } },
    { bound: { component: 7 }, msg: 'odd component' },
    { bound: { component: 'fn', msg: 'b', level: 'x' }, msg: 'both clash', fields: { level: 'y', field_time: 'kept', component: undefined, time: 't' } },
    { bound: { a: 1, b: 2 }, msg: 'order', fields: { c: 3, a: 4, component: 'z' } },
  ];
  for (const c of cases) {
    const sink = memorySink();
    const root = createLogger({ component: 'c', sinks: [sink] });
    (Object.keys(c.bound).length ? root.child(c.bound) : root).info(c.msg, c.fields);
    const line = sink.lines[0] as string;
    const time = (JSON.parse(line) as { time: string }).time;
    const extra: Record<string, unknown> = { ...c.bound, ...c.fields };
    for (const key of ['time', 'level', 'msg']) {
      if (key in extra) {
        extra[`field_${key}`] = extra[key];
        delete extra[key];
      }
    }
    const component = typeof c.bound.component === 'string' ? c.bound.component : 'c';
    t.equal(line, JSON.stringify({ time, level: 'info', component, msg: c.msg, ...extra }), c.msg);
  }
});

t.test('a line’s time is toISOString’s text, the second kept between lines or not', async (t) => {
  const samples = [0, 999, 1000, 1_796_662_474_123, 1_796_662_474_009, 1_796_662_474_090, 1_796_662_475_000, 1_796_662_474_999, -1, -1001, 8.64e15, -62_198_755_200_000];
  for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4e12), 1_796_662_474_000 + i * 7);
  const wrong = samples.filter((ms) => isoTime(ms) !== new Date(ms).toISOString());
  t.same(wrong, [], 'the same text for every instant');
});
