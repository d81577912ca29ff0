import t from 'tap';
import { results, runJob, users } from '../helpers/attack.js';
import { homeScript } from '../helpers/jobs.js';
import { startTestPlatform } from '../helpers/platform.js';

// A job asking for cpu 1 / ram 100 held 3 GiB, started 500 processes and wrote 2 GiB into its
// workspace: nothing it asked for was enforced. Each job below tries one of these; the kernel
// (its cgroup, its resource limits) or the platform's watch on its workspace must stop it, and
// the job must end in error saying which limit it passed.
// Seen failing on this commit's parent, which had no limits at all (the second test shows what
// that means: with MLP_JOB_LIMITS=off the memory hog holds its 600 MB and finishes).

const MEMORY = `
  const held = [];
  for (let i = 0; i < 60; i++) held.push(Buffer.alloc(10 * 1024 * 1024, 1)); // 600 MB, touched
  console.log('RESULT ' + JSON.stringify({ what: 'memory', ok: true, value: held.length * 10 + ' MB held' }));
`;

const PROCESSES = `
  import { spawn } from 'node:child_process';
  const children = [];
  let refused = '';
  for (let i = 0; i < 200; i++) {
    try {
      const c = spawn('sleep', ['3'], { stdio: 'ignore' });
      const failed = await new Promise((r) => { c.once('spawn', () => r(false)); c.once('error', (e) => r(e.code)); });
      if (failed) { refused = failed; break; }
      children.push(c);
    } catch (err) { refused = err.code ?? err.message; break; }
  }
  console.log('RESULT ' + JSON.stringify({ what: 'processes', ok: refused === '', value: children.length + ' started' + (refused ? ', then ' + refused : '') }));
  for (const c of children) c.kill('SIGKILL');
`;

const DISK = `
  import { writeFileSync, mkdirSync } from 'node:fs';
  mkdirSync('blobs', { recursive: true });
  let written = 0;
  try {
    for (let i = 0; i < 200; i++) {
      writeFileSync('blobs/' + i, Buffer.alloc(1024 * 1024, i));
      written += 1;
      await new Promise((r) => setTimeout(r, 20));
    }
  } catch (err) { console.log('RESULT ' + JSON.stringify({ what: 'disk', ok: false, code: err.code + ' after ' + written + ' MiB' })); process.exit(3); }
  console.log('RESULT ' + JSON.stringify({ what: 'disk', ok: true, value: written + ' MiB written' }));
`;

const BIG_FILE = `
  import { openSync, writeSync } from 'node:fs';
  process.on('SIGXFSZ', () => {});
  const fd = openSync('one.bin', 'w');
  let written = 0;
  try { for (let i = 0; i < 64; i++) written += writeSync(fd, Buffer.alloc(1024 * 1024, 7)); }
  catch (err) { console.log('RESULT ' + JSON.stringify({ what: 'file', ok: false, code: err.code + ' at ' + written })); process.exit(0); }
  console.log('RESULT ' + JSON.stringify({ what: 'file', ok: true, value: written + ' bytes in one file' }));
`;

const CPU = `
  const start = Date.now();
  const cpu0 = process.cpuUsage();
  while (Date.now() - start < 3000) Math.sqrt(Math.random());
  const used = process.cpuUsage(cpu0);
  const share = (used.user + used.system) / 1000 / (Date.now() - start);
  console.log('RESULT ' + JSON.stringify({ what: 'cpu', ok: share > 0.35, value: share.toFixed(3) }));
`;

const FILES = `
  import { openSync } from 'node:fs';
  let opened = 0, why = '';
  try { for (let i = 0; i < 20000; i++) { openSync('/dev/null', 'r'); opened += 1; } } catch (err) { why = err.code; }
  console.log('RESULT ' + JSON.stringify({ what: 'files', ok: why === '', value: opened + ' opened' + (why ? ', then ' + why : '') }));
`;

t.test('a job is held to its ram, cpu, processes, files and workspace bytes', async (t) => {
  const disk = 8 * 1024 * 1024;
  const p = await startTestPlatform({ MLP_TENANT_CPU: '4', MLP_TENANT_RAM: '4000', MLP_JOB_PIDS: '32', MLP_JOB_DISK: String(disk) });
  t.teardown(() => p.close());
  t.equal(p.deps.jobLimits.mode, 'on', `limits are enforced here: ${p.deps.jobLimits.detail}`);
  const token = (await users(p, ['alice'])).alice ?? '';
  for (const [name, script] of Object.entries({ memory: MEMORY, processes: PROCESSES, disk: DISK, bigfile: BIG_FILE, cpu: CPU, files: FILES })) homeScript(p.deps, 'alice', `${name}.mjs`, script);

  const [memory, processes, diskJob, bigfile, cpu, files] = await Promise.all([
    runJob(p, token, 'alice', 'memory', { ram: 100, cpu: 1 }),
    runJob(p, token, 'alice', 'processes', { ram: 500, cpu: 1 }),
    runJob(p, token, 'alice', 'disk', { ram: 300, cpu: 1 }),
    runJob(p, token, 'alice', 'bigfile', { ram: 300, cpu: 1 }),
    runJob(p, token, 'alice', 'cpu', { ram: 300, cpu: 0.1 }),
    runJob(p, token, 'alice', 'files', { ram: 300, cpu: 0.5 }),
  ]);

  t.match(memory, { state: 'error', msg: 'out of memory (ram 100 Mi)' }, `the memory hog was killed and said why:\n${memory.log.slice(-500)}`);
  t.notOk(results(memory.log).get('memory'), 'it never held its 600 MB');

  const started = results(processes.log).get('processes');
  t.match(started, { ok: false }, `processes past MLP_JOB_PIDS were refused: ${started?.value ?? started?.code ?? processes.log.slice(-500)}`);
  t.ok(Number(/^(\d+)/.exec(started?.value ?? '')?.[1] ?? 999) < 32, `fewer than 32 started (${started?.value})`);

  t.match(diskJob, { state: 'error', msg: `workspace over ${disk} bytes` }, `the disk filler was stopped and said why:\n${diskJob.log.slice(-500)}`);
  t.notOk(results(diskJob.log).get('disk')?.ok, 'it never wrote its 200 MiB');

  t.match(results(bigfile.log).get('file'), { ok: false, code: new RegExp(`^EFBIG at ${disk}$`) }, `no single file passes MLP_JOB_DISK (RLIMIT_FSIZE): ${bigfile.log.slice(-300)}`);

  const share = results(cpu.log).get('cpu');
  t.match(share, { ok: false }, `a busy loop of a cpu 0.1 job got ${share?.value ?? '?'} of a core`);

  const opened = results(files.log).get('files');
  t.match(opened, { ok: false, value: /then EMFILE$/ }, `open files are bounded: ${opened?.value}`);
  t.ok(Number(/^(\d+)/.exec(opened?.value ?? '')?.[1] ?? 99999) < 4096, 'below 4096');

  const tenant = (await p.call('GET', '/api/v1/tenants/default', { token })).json as { cpu_inuse: number; ram_inuse: number };
  t.match(tenant, { cpu_inuse: 0, ram_inuse: 0 }, 'every job gave its resources back');
});

t.test('where limits cannot be enforced, jobs are refused saying why; MLP_JOB_LIMITS=off runs them unlimited', async (t) => {
  const off = await startTestPlatform({ MLP_JOB_LIMITS: 'off' });
  t.teardown(() => off.close());
  t.equal(off.deps.jobLimits.mode, 'off');
  t.match(off.deps.jobLimits.detail, /WITHOUT cpu, memory, process or disk limits/);
  const token = (await users(off, ['alice'])).alice ?? '';
  homeScript(off.deps, 'alice', 'memory.mjs', MEMORY);
  const unlimited = await runJob(off, token, 'alice', 'memory', { ram: 100 });
  t.match(unlimited, { state: 'finished' }, "with limits off, the same hog runs to its end (the operator's choice)");
  t.match(results(unlimited.log).get('memory'), { ok: true, value: '600 MB held' });
});
