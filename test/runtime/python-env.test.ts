import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import route from '../../functions/jobs-create/route.js';
import { handle } from '../../functions/jobs-create/handler.js';
import type { Deps } from '../../shared/wiring/deps.js';
import { serializedReconcile } from '../../shared/jobs/lifecycle.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { createPythonEnvs, type EnvSpec } from '../../shared/runtimes/python-env.js';
import { storagePaths } from '../../shared/storage/paths.js';
import { invoke, testDeps } from '../helpers/deps.js';
import { homeScript } from '../helpers/jobs.js';
import { spawnTs } from '../helpers/process.js';
import { userWithToken } from '../helpers/users.js';

const ENSURE = path.resolve(import.meta.dirname, '../fixtures/runtimes/ensure-env.ts');

// The runtimes' Python environments as the platform builds them (shared/runtimes/python-env.ts),
// on small requirements so a build takes seconds: the real ones (TensorFlow, PyTorch) are built
// once by `npm test` before the tests and run the examples in test/runtime/python-examples.test.ts.

function smallEnvs(t: Test, requirements = '# nothing beyond the standard library\n') {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-pyenv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const req = path.join(dir, 'requirements.txt');
  writeFileSync(req, requirements);
  const sink = memorySink();
  const spec = (): EnvSpec => ({ requirements: req, imports: ['mlp', 'json'] });
  const make = (now?: () => number) =>
    createPythonEnvs({ cache: path.join(dir, 'cache'), python: '/usr/bin/python3', log: createLogger({ component: 'test', sinks: [sink] }), spec, ...(now ? { now } : {}) });
  return { make, cache: path.join(dir, 'cache'), req, logs: sink.lines };
}

// A requirements file pip refuses at once (no index is asked: the test does not wait on the network).
const BROKEN = 'not a requirement ===\n';

t.test('an environment is built once by processes asking at once, named by what it holds', async (t) => {
  const { make, cache, req } = smallEnvs(t);
  const a = make();
  const b = make(); // a second platform in this process
  // Two other processes asking at the same time: one builds, the other waits for it (the lock).
  const others = [0, 1].map(() => spawnTs(t, ENSURE, {}, [cache, req]));
  const [pa, pb] = await Promise.all([a.ensure('tf'), b.ensure('tf')]);
  for (const o of others) {
    t.equal((await o.exited).code, 0, o.output());
    t.equal(o.output().trim(), pa, 'the other process got the same environment');
  }
  const log = readFileSync(`${a.dir('tf')}.log`, 'utf8');
  t.equal(log.match(/ -m venv /g)?.length, 1, 'one build in all');
  t.equal(pa, pb);
  t.equal(pa, path.join(a.dir('tf'), 'bin', 'python'));
  t.match(path.basename(a.dir('tf')), /^tf-[0-9a-f]{16}$/);
  t.ok(existsSync(path.join(a.dir('tf'), 'READY')));
  t.notOk(existsSync(`${a.dir('tf')}.lock`), 'the lock is gone');
  t.match(readFileSync(path.join(a.dir('tf'), 'READY'), 'utf8'), /^runtime tf\nbuilt /);
  t.same(a.state('tf'), { phase: 'ready' });
  const venvs = (await import('node:fs')).readdirSync(cache).filter((n) => !n.endsWith('.log'));
  t.same(venvs, [path.basename(a.dir('tf'))], 'one environment, built once');
  writeFileSync(req, '# a changed pin\n');
  t.not(make().dir('tf'), a.dir('tf'), 'other requirements, another environment');
});

t.test('a build that fails says why, keeps nothing half-built, and is tried again later', async (t) => {
  const { make } = smallEnvs(t, BROKEN);
  let now = 1_000_000;
  const e = make(() => now);
  await t.rejects(e.ensure('tf'), /building runtime tf failed: python -m pip install ended with exit 1 \(last lines of its log: .*Invalid requirement: 'not a requirement ===/);
  t.notOk(existsSync(e.dir('tf')), 'no half-built environment is left');
  t.match(e.state('tf'), { phase: 'failed', detail: /Invalid requirement/ });
  now += 61_000;
  t.match(e.state('tf'), { phase: 'building' }, 'a minute later the next job that needs it starts a new build');
  await t.rejects(e.ensure('tf'), /building runtime tf failed/, 'which fails the same way');
});

async function pythonJob(t: Test, deps: Deps, script: string) {
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'train.py', script);
  const created = await invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name: 'py', entry: 'train.py', cpu: 0.5, ram: 300 } });
  t.equal(created.status, 201);
  const job = () => deps.store.collection('job').get('alice/py') as Promise<{ state: string; msg?: string; progress: number } | null>;
  return { created, job };
}

t.test('a Python job waits in creating while its environment is built, then runs in it, sandboxed', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '1' });
  const { make } = smallEnvs(t);
  deps.pythonEnvs = make();
  const { created, job } = await pythonJob(
    t,
    deps,
    [
      'import os, sys, mlp',
      'print("prefix", sys.prefix)',
      'print("home", os.environ["HOME"], os.access(os.environ["HOME"], os.W_OK))',
      'print("helper", mlp.__file__)',
      'print("root-visible", os.path.exists(os.path.join(os.environ["MLP_WORKSPACE"], "..", "..", "..", "secrets")))',
      'open(os.path.join(os.environ["MLP_WORKSPACE"], "ckpt", "out.txt"), "w").write("ok")',
    ].join('\n'),
  );
  t.match(created.body, { state: 'creating', runtime: 'tf', msg: /waiting for runtime tf to be prepared: its Python environment is built on first use/ });
  let j = await job();
  for (let i = 0; i < 600 && j && !['finished', 'error'].includes(j.state); i++) {
    await serializedReconcile(deps);
    await new Promise((r) => setTimeout(r, 100));
    j = await job();
  }
  const log = readFileSync(path.join(storagePaths(deps.config.root).job('alice', 'py'), 'log', 'job.log'), 'utf8');
  t.match(j, { state: 'finished', progress: 100 }, log);
  t.notOk(j?.msg, 'the waiting msg is gone once it ran');
  t.match(log, `prefix ${deps.pythonEnvs.dir('tf')}`, "it ran in its runtime's environment");
  t.match(log, 'home /tmp True', 'a writable home of its own');
  t.match(log, /helper .*templates\/runtime-py\/mlp\/__init__\.py/);
  t.match(log, 'root-visible False', 'MLP_ROOT stays hidden');
  t.equal(readFileSync(path.join(storagePaths(deps.config.root).job('alice', 'py'), 'ckpt', 'out.txt'), 'utf8'), 'ok');
});

t.test('a Python job whose environment cannot be built ends in error saying so, and gives its resources back', async (t) => {
  const deps = await testDeps(t, { MLP_TENANT_CPU: '1' });
  const { make } = smallEnvs(t, BROKEN);
  deps.pythonEnvs = make();
  const { job } = await pythonJob(t, deps, 'print("never")\n');
  let j = await job();
  for (let i = 0; i < 600 && j && j.state !== 'error'; i++) {
    await serializedReconcile(deps);
    await new Promise((r) => setTimeout(r, 100));
    j = await job();
  }
  t.match(j, { state: 'error', msg: /^not run: the Python environment of runtime tf could not be built: building runtime tf failed/ });
  await serializedReconcile(deps);
  t.equal((await deps.resources.getTenant('default'))?.inuse.cpu, 0, 'its cpu is free again');
});

t.test('a runtime this installation does not offer is refused, naming those it does', async (t) => {
  const deps = await testDeps(t, { MLP_RUNTIMES: 'tf' });
  const headers = await userWithToken(deps, 'alice');
  homeScript(deps, 'alice', 'train.py', 'print(1)\n');
  const r = await invoke(route, handle, deps, { path: '/api/v1/users/alice/jobs', headers, body: { name: 'a', entry: 'train.py', runtime: 'torch' } });
  t.equal(r.status, 403);
  t.same(r.body, { msg: 'runtime torch is not offered here; this installation offers tf' });
  t.same(await deps.store.collection('job').find({}), [], 'nothing was created');
});
