import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { processStartTime, recordStore } from '../../shared/orchestrator/local-record.js';
import { createLocalOrchestrator } from '../../shared/orchestrator/local.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { startPlatformProcess, type PlatformProcess } from '../helpers/platform-process.js';
import { until, untilAnswer } from '../helpers/poll.js';
import { freePort } from '../helpers/process.js';

// Jobs outlive a platform restart: a running job's process is not killed when the
// platform crashes (SIGKILL) or stops (SIGTERM); the next start adopts it by its recorded pid and
// start time, its log and metrics keep flowing, and it ends by its real exit code.

// Prints and publishes a metric every 100 ms until the test drops a "go" file in its home (which
// it sees read-only), then publishes two more, flushes and exits with the code in its name.
const script = (code: number) => `
  import { existsSync } from 'node:fs';
  import path from 'node:path';
  import { publishMetrics, close } from '@mlp/runtime';
  const go = path.join(process.env.MLP_HOME, 'go-' + process.env.MLP_JOB);
  let epoch = 0;
  const tick = async (tag) => {
    epoch += 1;
    console.log('tick', epoch, tag, new Date().toISOString());
    await publishMetrics({ epoch, accuracy: epoch / 1000, loss: 1 / epoch, progress: Math.min(99, epoch) });
  };
  while (!existsSync(go)) {
    await tick('waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log('saw go');
  await tick('after go');
  await tick('after go');
  await close();
  process.exit(${code});
`;

/** Live processes whose command line holds the marker. */
function withMarker(marker: string): number[] {
  return readdirSync('/proc')
    .filter((d) => {
      if (!/^\d+$/.test(d)) return false;
      try {
        return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${d}/stat`, 'utf8'));
      } catch {
        return false;
      }
    })
    .map(Number);
}

interface Job {
  state: string;
  msg?: string;
}

async function scenario(t: Test, sandbox: 'on' | 'off') {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-outlive-'));
  const env = {
    MLP_ROOT: root,
    MLP_PORT: String(await freePort()),
    MLP_APP_PORT: String(await freePort()),
    MLP_JOB_SANDBOX: sandbox,
    MLP_TENANT_CPU: '2',
    MLP_TENANT_RAM: '4000',
    MLP_LOG_LEVEL: 'info',
  };
  let p: PlatformProcess = await startPlatformProcess(t, env);
  t.teardown(async () => {
    await p.kill('SIGKILL');
    // The jobs outlive the platform by design: end any the test left, then the folder.
    const { endRecorded } = await import('../../shared/orchestrator/local-record.js');
    endRecorded(path.join(root, 'orchestrator'));
    rmSync(root, { recursive: true, force: true });
  });
  t.equal((await p.call('POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201);
  const token = (await p.call('GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
  const home = storagePaths(root).home('alice');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'exit3.mjs'), script(3));
  writeFileSync(path.join(home, 'exit0.mjs'), script(0));
  const marker = `mlp-outlive-child-${process.pid}-${sandbox}`;
  // A job that runs until stopped, with a child of its own: stopping an adopted job ends its whole tree.
  writeFileSync(
    path.join(home, 'forever.mjs'),
    `
    import { spawn } from 'node:child_process';
    const c = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000) // ${marker}'], { stdio: 'ignore' });
    console.log('child', c.pid);
    setInterval(() => console.log('alive'), 200);
  `,
  );
  const job = async (name: string) => (await p.call('GET', `/api/v1/users/alice/jobs/${name}`, { token })).json as Job;
  const log = (name: string) => readFileSync(path.join(storagePaths(root).job('alice', name), 'log', 'job.log'), 'utf8');
  const ticks = (name: string) => (log(name).match(/^tick \d+/gm) ?? []).length;
  const cpuInUse = async () => ((await p.call('GET', '/api/v1/tenants/default', { token })).json as { cpu_inuse: number }).cpu_inuse;
  const epochs = async (name: string) => ((await p.call('GET', `/api/v1/users/alice/job_metrics/${name}`, { token })).json as { epoch: number }[]).map((m) => m.epoch);

  for (const name of ['fails', 'works', 'forever']) {
    const a = await p.call('POST', '/api/v1/users/alice/jobs', { token, body: { name, entry: `${name === 'fails' ? 'exit3' : name === 'works' ? 'exit0' : 'forever'}.mjs`, cpu: 0.5, ram: 500 } });
    t.equal(a.status, 201, `${name} created (${a.text})`);
  }
  for (const name of ['fails', 'works'])
    await untilAnswer(`${name} runs and publishes`, async () => ((await job(name)).state === 'running' && ticks(name) >= 3 && (await epochs(name)).length >= 3 ? true : undefined));
  await untilAnswer('forever runs its child', async () => (/alive/.test(log('forever')) && withMarker(marker).length === 1 ? true : undefined));
  t.equal(await cpuInUse(), 1.5, 'the jobs hold their cpu');

  // A crash: the platform gets SIGKILL; the jobs go on writing their logs and buffering metrics.
  await p.kill('SIGKILL');
  const before = { fails: ticks('fails'), works: ticks('works') };
  await untilAnswer('the jobs go on while the platform is down', async () => (ticks('fails') > before.fails + 2 && ticks('works') > before.works + 2 ? true : undefined));
  p = await startPlatformProcess(t, env);
  for (const name of ['fails', 'works']) t.equal((await job(name)).state, 'running', `${name} was adopted, not lost`);
  const adopted = { fails: ticks('fails'), works: ticks('works') };

  // A graceful stop (SIGTERM) leaves them running too.
  await p.kill('SIGTERM');
  t.match(p.proc.output(), /stopping \(SIGTERM\)/);
  await untilAnswer('the jobs go on after a graceful stop', async () => (ticks('fails') > adopted.fails + 2 && ticks('works') > adopted.works + 2 ? true : undefined));
  p = await startPlatformProcess(t, env);
  for (const name of ['fails', 'works']) t.equal((await job(name)).state, 'running', `${name} was adopted again`);
  t.equal((await p.call('PUT', '/api/v1/users/alice/jobs/forever:stop', { token, body: {} })).status, 200);
  t.match(await job('forever'), { state: 'error', msg: 'stopped by user' }, 'an adopted job can be stopped');
  await untilAnswer('its child ends too', async () => (withMarker(marker).length === 0 ? true : undefined));
  t.pass('stopping an adopted job ended its whole process group');

  for (const name of ['fails', 'works']) writeFileSync(path.join(home, `go-${name}`), '');
  const fails = await untilAnswer('fails ends', async () => ((await job('fails')).state === 'error' ? job('fails') : undefined));
  const works = await untilAnswer('works ends', async () => (['finished', 'error'].includes((await job('works')).state) ? job('works') : undefined));
  t.match(fails, { state: 'error', msg: /exit code 3/ }, "the real exit code of a job that is not the platform's child");
  t.match(works, { state: 'finished' });
  for (const name of ['fails', 'works']) {
    const text = log(name);
    t.ok(ticks(name) > adopted[name as 'fails'] && /saw go/.test(text), `${name}'s log has lines from before and after the restarts`);
    const total = ticks(name);
    // Polled as the epochs themselves, so a failure names those that arrived.
    const got = await until(
      () => epochs(name),
      (e) => e.length >= total,
      `${name}'s ${total} metrics arrive`,
      { ms: 100 },
    );
    t.same(
      got,
      Array.from({ length: total }, (_, i) => i + 1),
      `${name}: every metric arrived, those published while the platform was down too`,
    );
  }
  await untilAnswer('cpu is released', async () => ((await cpuInUse()) === 0 ? true : undefined));
  // Once: a further restart (records of ended jobs still on disk) gives nothing back twice.
  await p.kill('SIGKILL');
  p = await startPlatformProcess(t, env);
  await p.call('POST', '/api/v1/reconcile/jobs', { token: readFileSync(path.join(root, 'secrets', 'service-token'), 'utf8').trim() });
  t.equal(await cpuInUse(), 0, 'tenant cpu_inuse is 0 after another restart (released exactly once)');
  t.match(await job('fails'), { state: 'error', msg: /exit code 3/ });
  for (const name of ['fails', 'works', 'forever']) t.equal((await p.call('DELETE', `/api/v1/users/alice/jobs/${name}`, { token })).status, 200);
  await untilAnswer('the jobs are deleted', async () => (((await p.call('GET', '/api/v1/users/alice/jobs', { token })).json as unknown[]).length === 0 ? true : undefined));
  t.same(
    readdirSync(path.join(root, 'orchestrator')).filter((n) => n !== 'api'),
    [],
    "deleting the jobs removed their records and exit files (the API bridge's folder stays)",
  );
}

t.test('jobs outlive a platform crash and stop, sandboxed', (t) => scenario(t, 'on'));
t.test('jobs outlive a platform crash and stop, MLP_JOB_SANDBOX=off', (t) => scenario(t, 'off'));

t.test('a recorded pid now held by another process (another start time) is not adopted', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-adopt-'));
  const log = createLogger({ component: 'test', sinks: [memorySink()] });
  const sleeper = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  t.teardown(() => {
    try {
      process.kill(-(sleeper.pid as number), 'SIGKILL');
    } catch {
      // already ended
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await new Promise((r) => sleeper.once('spawn', r));
  const pid = sleeper.pid as number;
  const startTime = processStartTime(pid) as string;
  t.ok(startTime, 'the start time is read from /proc');
  const records = recordStore(dir);
  const at = new Date().toISOString();
  records.write({ id: 'recycled', kind: 'job', pid, startTime: String(Number(startTime) - 1), startedAt: at, sandboxed: false });
  records.write({ id: 'same', kind: 'job', pid, startTime, startedAt: at, sandboxed: false });
  records.write({ id: 'ended', kind: 'job', pid, startTime: String(Number(startTime) - 2), startedAt: at, sandboxed: false });
  writeFileSync(records.exitFile('ended'), '3');
  const orch = createLocalOrchestrator({ log, stateDir: dir, graceMs: 500 });
  t.teardown(() => orch.close());
  t.match(await orch.status('recycled'), { phase: 'failed', reason: /lost/ }, 'another process with that pid is not the job');
  t.match(await orch.status('ended'), { phase: 'failed', exitCode: 3, reason: 'exit code 3' }, 'an ended job reports the code it recorded');
  t.match(await orch.status('same'), { phase: 'running' }, 'the same pid and start time is the job: adopted');
  t.equal(sleeper.exitCode, null, 'the process of the recycled pid was left alone');
  await orch.stop('same');
  t.match(await orch.status('same'), { phase: 'failed', reason: 'stopped' }, 'an adopted job can be stopped');
  t.notOk(processStartTime(pid), 'its process group was ended');
  await orch.forget('same');
  t.equal(await orch.status('same'), null);
  t.notOk(existsSync(path.join(dir, 'same.json')), 'forget removes its record');
});
