import { spawn } from 'node:child_process';
import { access, constants, mkdir, mkdtemp, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { describeCgroups, listCgroups, openCgroup, type AvailableCgroups, type Limits, type WorkloadCgroup } from './cgroups.js';
import { cgroupSupport, shellQuote } from './cgroups-probe.js';

// The real tests use this machine's cgroups (v1 or v2, as found) under a parent of their own, so
// they never touch a platform's `mlp` cgroups; everything they make is removed in teardown.
const parentName = `mlp-test-${process.pid}`;
const support = await cgroupSupport({ parentName });
const writable = async (p: string) =>
  access(p, constants.W_OK).then(
    () => true,
    () => false,
  );
// As root with a writable cgroup mount the probe must succeed; elsewhere (a container, a user) the real tests skip.
const expectReal = process.platform === 'linux' && process.getuid?.() === 0 && (await writable('/sys/fs/cgroup'));
// Skipped only where no process could make cgroups (not root, no writable mount); where one can,
// a failing probe fails these cases too instead of hiding behind a skip.
const real = { skip: expectReal ? false : `not root on Linux with a writable /sys/fs/cgroup (probe: ${support.mode === 'unavailable' ? support.reason : support.mode})` };

const made: WorkloadCgroup[] = [];
async function open(id: string, limits: Limits): Promise<WorkloadCgroup> {
  const cg = await openCgroup(support as AvailableCgroups, id, limits);
  made.push(cg);
  return cg;
}

t.teardown(async () => {
  // Every cgroup is attempted even if one fails; the failures are reported together at the end.
  const errors: unknown[] = [];
  for (const cg of made) {
    try {
      await cg.killAll();
      await cg.remove();
    } catch (err) {
      errors.push(err);
    }
  }
  const parents = support.mode === 'v1' ? [...new Set(Object.values(support.parents))] : support.mode === 'v2' ? [support.root] : [];
  for (const p of parents) {
    try {
      await rmdir(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') errors.push(err);
    }
  }
  if (errors.length) throw new AggregateError(errors, `cgroup test teardown: ${errors.map(String).join('; ')}`);
});

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs argv the way the orchestrator's wrapper does: the shell joins the cgroup, then execs the program. */
function runIn(cg: WorkloadCgroup, argv: string[]): Promise<Run> {
  const script = `for f in ${cg.procsFiles.map(shellQuote).join(' ')}; do echo $$ > "$f" || exit 97; done; exec "$@"`;
  return new Promise((resolve, reject) => {
    // No NODE_OPTIONS: the test runner's loader hooks would ride along into every child.
    const child = spawn('/bin/sh', ['-c', script, 'sh', ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const keyed = (text: string) =>
  Object.fromEntries(
    text
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .map(([k, v]) => [k, Number(v)]),
  );
const read = (file: string) => readFile(file, 'utf8').then((s) => s.trim());

t.comment(describeCgroups(support));
t.test("the probe finds this machine's cgroups when run as root", { skip: expectReal ? false : 'not root on Linux with a writable /sys/fs/cgroup' }, async (t) => {
  t.not(support.mode, 'unavailable', describeCgroups(support));
  t.equal(await cgroupSupport({ parentName }), support, 'probed once: the same answer');
  if (support.mode === 'unavailable') return;
  t.notOk(
    (await listCgroups(support)).some((id) => id.startsWith('probe-')),
    'the probe removed its cgroup',
  );
});

t.test('memory: a child over ramMi is OOM-killed and oomKilled() says so; one within it is not', real, async (t) => {
  const hog = await open('oom', { cpu: 1, ramMi: 64, pids: 64 });
  // 300 MB in filled 10 MB buffers (Buffer memory is outside the JS heap: the cgroup limit, not V8's, is hit).
  const r = await runIn(hog, [process.execPath, '-e', 'const keep = []; for (let i = 0; i < 30; i++) keep.push(Buffer.alloc(10 << 20, 1)); console.log("survived", keep.length)']);
  t.equal(r.signal, 'SIGKILL', `killed by the kernel (exit ${r.code}, stderr ${r.stderr.slice(0, 200)})`);
  t.notMatch(r.stdout, /survived/);
  t.equal(await hog.oomKilled({ signal: r.signal }), true, 'oomKilled');
  if (support.mode === 'v1') t.comment(`memory.oom_control: ${(await read(path.join(hog.dirs.memory, 'memory.oom_control'))).replace(/\n/g, ', ')}`);

  const fits = await open('fits', { cpu: 1, ramMi: 256, pids: 64 });
  const ok = await runIn(fits, [process.execPath, '-e', 'Buffer.alloc(16 << 20, 1); console.log(require("fs").readFileSync("/proc/self/cgroup", "utf8"))']);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, `${parentName}/fits`, 'the program ran inside its cgroup');
  t.equal(await fits.oomKilled({ signal: ok.signal }), false, 'not oomKilled');
});

t.test('pids: forks past the limit fail; killAll() empties the cgroup', real, async (t) => {
  const cg = await open('pids', { cpu: 1, ramMi: 256, pids: 16 });
  // dash gives up at its first failed fork ("Cannot fork"); the sleeps outlive it, holding no pipe of ours.
  const r = await runIn(cg, ['/bin/sh', '-c', 'n=0; for i in $(seq 50); do sleep 30 >/dev/null 2>&1 & n=$((n+1)); echo "started $n"; done; echo all-started']);
  const started = (r.stdout.match(/^started /gm) ?? []).length;
  t.ok(started > 0 && started < 50, `started ${started} of 50`);
  t.notMatch(r.stdout, /all-started/);
  t.match(r.stderr, /Cannot fork|Resource temporarily unavailable/);
  t.ok(keyed(await read(path.join(cg.dirs.pids, 'pids.events'))).max! > 0, 'pids.events counts refused forks');
  const before = await cg.pids();
  t.ok(before.length > 0 && before.length <= 16, `${before.length} sleeps left inside`);
  await cg.killAll();
  t.same(await cg.pids(), [], 'empty after killAll');
  await cg.killAll(); // an empty cgroup: nothing to do
});

t.test('cpu: a busy loop at cpu 0.1 is throttled', real, async (t) => {
  const cg = await open('cpu', { cpu: 0.1, ramMi: 256, pids: 64 });
  if (support.mode === 'v1') {
    t.equal(await read(path.join(cg.dirs.cpu, 'cpu.cfs_quota_us')), '10000');
    t.equal(await read(path.join(cg.dirs.cpu, 'cpu.cfs_period_us')), '100000');
  } else t.equal(await read(path.join(cg.dirs.cpu, 'cpu.max')), '10000 100000');
  const r = await runIn(cg, [process.execPath, '-e', 'const end = Date.now() + 1500; let n = 0; while (Date.now() < end) n++; console.log(n > 0)']);
  t.equal(r.code, 0, r.stderr);
  const stat = keyed(await read(path.join(cg.dirs.cpu, 'cpu.stat')));
  t.ok(stat.nr_throttled! > 0, `throttled in ${stat.nr_throttled} of ${stat.nr_periods} periods`);
});

t.test('openCgroup is idempotent and re-applies limits; remove() twice is fine; listCgroups follows', real, async (t) => {
  const s = support as AvailableCgroups;
  const a = await open('again', { cpu: 0.5, ramMi: 64, pids: 32 });
  const b = await open('again', { cpu: 0.5, ramMi: 64, pids: 32 });
  t.same(b.procsFiles, a.procsFiles);
  const memFile = path.join(a.dirs.memory, s.mode === 'v1' ? 'memory.limit_in_bytes' : 'memory.max');
  t.equal(await read(memFile), String(64 << 20));
  // Raising then lowering: on v1 memory.memsw must stay >= the plain limit at every write.
  for (const ramMi of [128, 32]) {
    await open('again', { cpu: 0.5, ramMi, pids: 32 });
    t.equal(await read(memFile), String(ramMi << 20), `ramMi ${ramMi}`);
    if (s.mode === 'v1') t.equal(await read(path.join(a.dirs.memory, 'memory.memsw.limit_in_bytes')), String(ramMi << 20), 'memsw the same');
  }
  t.equal(await read(path.join(a.dirs.pids, 'pids.max')), '32');
  t.ok((await listCgroups(s)).includes('again'), 'listed');
  await a.killAll();
  await a.remove();
  await a.remove();
  t.notOk((await listCgroups(s)).includes('again'), 'no longer listed');
});

/** A fake cgroup v2 tree: the files the kernel would show, made in a temp dir. */
async function fakeV2(t: Test): Promise<{ base: string; s: AvailableCgroups }> {
  const base = await mkdtemp(path.join(tmpdir(), 'mlp-cgv2-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  await writeFile(path.join(base, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
  await writeFile(path.join(base, 'cgroup.subtree_control'), 'cpu memory\n');
  return { base, s: { mode: 'v2', root: path.join(base, 'mlp') } };
}

t.test('v2 file layout on a fake cgroup tree (no cgroup v2 controllers on this machine)', async (t) => {
  const { base, s } = await fakeV2(t);
  // What mkdir makes in a real cgroup2 fs, made here beforehand (openCgroup's mkdir accepts an existing folder).
  const dir = path.join(base, 'mlp', 'job-1');
  await mkdir(dir, { recursive: true });
  const files = {
    'cgroup.procs': '',
    'cgroup.kill': '',
    'memory.max': 'max\n',
    'memory.swap.max': 'max\n',
    'cpu.max': 'max 100000\n',
    'pids.max': 'max\n',
    'memory.events': 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);

  const cg = await openCgroup(s, 'job-1', { cpu: 0.5, ramMi: 64, pids: 32 });
  t.equal(await read(path.join(base, 'cgroup.subtree_control')), '+memory +cpu +pids', 'the base hands the controllers down');
  t.equal(await read(path.join(base, 'mlp', 'cgroup.subtree_control')), '+memory +cpu +pids', 'so does the parent');
  t.equal(await read(path.join(dir, 'memory.max')), String(64 * 1024 * 1024));
  t.equal(await read(path.join(dir, 'memory.swap.max')), '0');
  t.equal(await read(path.join(dir, 'cpu.max')), '50000 100000');
  t.equal(await read(path.join(dir, 'pids.max')), '32');
  t.same(cg.procsFiles, [path.join(dir, 'cgroup.procs')]);
  t.same(cg.dirs, { memory: dir, cpu: dir, pids: dir });
  t.equal(await cg.oomKilled(), false, 'oom 1 but oom_kill 0: not killed');
  await writeFile(path.join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 9\noom 2\noom_kill 1\n');
  t.equal(await cg.oomKilled(), true);
  t.same(await cg.pids(), []);
  await cg.killAll();
  t.equal(await read(path.join(dir, 'cgroup.kill')), '1', 'cgroup.kill used when present');
  t.same(await listCgroups(s), ['job-1']);
  // A plain folder full of files is not empty: rmdir's error is reported, not swallowed.
  await t.rejects(cg.remove(), /cannot remove .*job-1: ENOTEMPTY/);

  // The minimum quota; a tree whose parent already hands the controllers down is left as it is.
  await writeFile(path.join(base, 'mlp', 'cgroup.subtree_control'), 'cpu memory pids\n');
  await openCgroup(s, 'job-2', { cpu: 0.001, ramMi: 1, pids: 1 });
  t.equal(await read(path.join(base, 'mlp', 'cgroup.subtree_control')), 'cpu memory pids');
  t.equal(await read(path.join(base, 'mlp', 'job-2', 'cpu.max')), '1000 100000');
  t.notOk(
    await access(path.join(base, 'mlp', 'job-2', 'memory.swap.max')).then(
      () => true,
      () => false,
    ),
    'no swap file: none written',
  );
  t.same(await listCgroups(s), ['job-1', 'job-2']);
});

t.test('unavailable, with a reason, where there is nothing to use', async (t) => {
  const empty = await mkdtemp(path.join(tmpdir(), 'mlp-cgnone-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const none = await cgroupSupport({ base: empty });
  t.equal(none.mode, 'unavailable');
  t.match(describeCgroups(none), /cgroups are unavailable \(no cgroup v2 .* and no cgroup v1 memory, cpu, pids hierarchy/);
  t.match(await cgroupSupport({ base: path.join(empty, 'missing') }), { mode: 'unavailable', reason: /does not exist/ });
  t.match(await cgroupSupport({ base: empty, parentName: '../escape' }), { mode: 'unavailable', reason: /not a plain folder name/ });
  const partial = await mkdtemp(path.join(tmpdir(), 'mlp-cgpart-'));
  t.teardown(() => rm(partial, { recursive: true, force: true }));
  await writeFile(path.join(partial, 'cgroup.controllers'), 'cpu io memory\n');
  t.match(await cgroupSupport({ base: partial }), { mode: 'unavailable', reason: /does not offer the pids controller/ });
});

t.test('invalid ids and limits throw TypeError before anything is made', async (t) => {
  const { base, s } = await fakeV2(t);
  const fine: Limits = { cpu: 1, ramMi: 64, pids: 16 };
  for (const id of ['', 'A', '../x', 'a/b', 'a b', 'x'.repeat(81), 'ok\n', 5 as unknown as string]) {
    await t.rejects(openCgroup(s, id, fine), TypeError, `id ${JSON.stringify(id)}`);
  }
  const bad: Array<Partial<Record<keyof Limits, unknown>>> = [
    { cpu: 0 },
    { cpu: -1 },
    { cpu: NaN },
    { cpu: Infinity },
    { cpu: '1' },
    { ramMi: 0 },
    { ramMi: 1e300 },
    { ramMi: undefined },
    { pids: 0 },
    { pids: 1.5 },
    { pids: -3 },
    { pids: Infinity },
  ];
  for (const change of bad) {
    await t.rejects(openCgroup(s, 'job-x', { ...fine, ...change } as Limits), TypeError, JSON.stringify(change));
  }
  await t.rejects(openCgroup(s, 'job-x', null as unknown as Limits), TypeError);
  t.same(await readdir(base), ['cgroup.controllers', 'cgroup.subtree_control'], 'nothing made');
});
