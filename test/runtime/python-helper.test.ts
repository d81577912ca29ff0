// The Python helper `mlp` against a stand-in for the platform's API: a node:http server that
// records what it is sent and answers as told. Each case runs a small script with
// /usr/bin/python3 (no numpy, Keras or TensorFlow needed). save_model is checked in
// the runtimes' real environments by test/runtime/save-model.test.ts.
import { spawn } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import publishRoute from '../../functions/metrics-publish/route.js';
import { compile } from '../../shared/core/validation.js';

/** The helper's package folder (templates/runtime-py), put on PYTHONPATH as a job's runtime will. */
const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../templates/runtime-py');
const PYTHON = '/usr/bin/python3';
const USER = 'alice';
const JOB = 'train';
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJqb2JfaWQiOiJ1MSJ9.c2ln';
const METRICS = `/api/v1/users/${USER}/job_metrics/${JOB}`;
const HEARTBEAT = `/api/v1/users/${USER}/jobs/${JOB}:heartbeat`;

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: unknown;
}

interface Metric {
  epoch: number;
  accuracy: number;
  loss: number;
  progress: number;
}

type Answer = { status: number; body?: unknown };

/** The platform's own check of a metrics POST body (the route's schema, as its adapter compiles it). */
const platformValidates = compile(publishRoute.body as NonNullable<Exclude<typeof publishRoute.body, 'ignored'>>);
const acceptedByPlatform = (body: unknown): string => {
  try {
    platformValidates(body, 'body');
    return 'accepted';
  } catch (err) {
    return (err as Error).message;
  }
};

/** The API stand-in; `answer` decides each response (default 200 ""). */
async function fakeApi(t: Test, answer: (req: Seen, index: number) => Answer = () => ({ status: 200 })) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: text ? (JSON.parse(text) as unknown) : undefined,
      };
      seen.push(s);
      const a = answer(s, seen.length - 1);
      res.writeHead(a.status, { 'content-type': 'application/json' });
      res.end(a.body === undefined ? '""' : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

interface Dirs {
  root: string;
  workspace: string;
  home: string;
  datasets: string;
}

function dirs(t: Test): Dirs {
  const root = mkdtempSync(path.join(tmpdir(), 'mlp-py-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const d = { root, workspace: path.join(root, 'ws'), home: path.join(root, 'home'), datasets: path.join(root, 'datasets') };
  for (const p of [d.workspace, d.home, d.datasets]) mkdirSync(p);
  return d;
}

/** Runs `script` with the job's environment (api undefined: outside the platform). */
function runPython(script: string, opts: { api?: string; dirs: Dirs; env?: Record<string, string>; pythonPath?: string }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: opts.pythonPath ?? HERE, PYTHONDONTWRITEBYTECODE: '1' };
  if (opts.api) Object.assign(env, { MLP_API: opts.api, MLP_USER: USER, MLP_JOB: JOB, MLP_TOKEN: TOKEN });
  Object.assign(env, { MLP_WORKSPACE: opts.dirs.workspace, MLP_HOME: opts.dirs.home, MLP_DATASETS: opts.dirs.datasets }, opts.env ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['-c', script], { cwd: opts.dirs.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The metrics of every POST, in order, whether sent one by one or as arrays. */
const metricsOf = (seen: Seen[]): Metric[] => seen.filter((s) => s.method === 'POST' && s.url === METRICS).flatMap((s) => (Array.isArray(s.body) ? (s.body as Metric[]) : [s.body as Metric]));

t.test('log publishes JobMetrics to …/job_metrics/{job} with the job token', async (t) => {
  const d = dirs(t);
  const api = await fakeApi(t);
  const run = await runPython(
    `import mlp
mlp.log(1, accuracy=0.5, loss=1.25, progress=10)
mlp.log(2, accuracy=0.75, loss=0.5, epochs=4)
mlp.log(3, accuracy=0.875, loss=0.25)
`,
    { api: api.url, dirs: d },
  );
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /^epoch 1 accuracy 0\.5 loss 1\.25 progress 10$/m, 'each metric is printed for the job log');
  const posts = api.seen.filter((s) => s.method === 'POST');
  t.ok(posts.length >= 1);
  for (const p of posts) {
    t.equal(p.url, METRICS);
    t.equal(p.authorization, `Bearer ${TOKEN}`);
    t.match(p.contentType, /^application\/json/);
  }
  t.same(
    metricsOf(api.seen),
    [
      { epoch: 1, accuracy: 0.5, loss: 1.25, progress: 10 },
      { epoch: 2, accuracy: 0.75, loss: 0.5, progress: 50 },
      { epoch: 3, accuracy: 0.875, loss: 0.25, progress: 75 },
    ],
    'progress given, then derived from the epochs (remembered)',
  );
  t.equal(api.seen.length, posts.length, 'nothing else is sent');
  for (const p of posts) t.equal(acceptedByPlatform(p.body), 'accepted', "the route's schema accepts the POST as sent");
});

t.test('many quick log calls are batched, at most 1,000 a POST, and all arrive by exit', async (t) => {
  const d = dirs(t);
  const api = await fakeApi(t);
  const run = await runPython(
    `import mlp
for i in range(2500):
    mlp.log(i % 100, accuracy=i / 2500, loss=1 - i / 2500, progress=i * 100 // 2500)
`,
    { api: api.url, dirs: d },
  );
  t.equal(run.code, 0, run.stderr);
  const posts = api.seen.filter((s) => s.method === 'POST');
  const metrics = metricsOf(api.seen);
  t.equal(metrics.length, 2500, 'every metric arrived');
  t.same(
    metrics.map((m) => m.accuracy),
    Array.from({ length: 2500 }, (_, i) => i / 2500),
    'in order, once each',
  );
  t.ok(posts.length < 2500 && posts.length >= 3, `batched: ${posts.length} POSTs for 2500 calls`);
  for (const p of posts) t.ok(!Array.isArray(p.body) || (p.body as unknown[]).length <= 1000, 'no POST over 1,000');
  t.same(new Set(posts.map((p) => acceptedByPlatform(p.body))), new Set(['accepted']), "the route's schema accepts every POST as sent");
});

t.test('heartbeat flushes the metrics, then PUTs {state, progress}; bad values are refused locally', async (t) => {
  const d = dirs(t);
  const api = await fakeApi(t);
  const run = await runPython(
    `import mlp
mlp.log(1, accuracy=0.5, loss=1.0, progress=40)
mlp.heartbeat(40)
for bad in [(101,), (-1,), (True,), (4.5,), (50, "paused")]:
    try:
        mlp.heartbeat(*bad)
        print("accepted", bad)
    except (TypeError, ValueError) as err:
        print("refused:", err)
mlp.heartbeat(100, state="finished")
`,
    { api: api.url, dirs: d },
  );
  t.equal(run.code, 0, run.stderr);
  t.notMatch(run.stdout, /accepted/);
  t.equal(run.stdout.match(/^refused:/gm)?.length, 5);
  t.same(
    api.seen.map((s) => [s.method, s.url, s.body]),
    [
      ['POST', METRICS, { epoch: 1, accuracy: 0.5, loss: 1, progress: 40 }],
      ['PUT', HEARTBEAT, { state: 'running', progress: 40 }],
      ['PUT', HEARTBEAT, { state: 'finished', progress: 100 }],
    ],
    'the metric is in before the heartbeat',
  );
  t.ok(api.seen.every((s) => s.authorization === `Bearer ${TOKEN}`));
});

t.test('keras_callback logs from 1 and heartbeats after each epoch (a stand-in keras module)', async (t) => {
  const d = dirs(t);
  const fake = path.join(d.root, 'fake');
  mkdirSync(path.join(fake, 'keras'), { recursive: true });
  writeFileSync(path.join(fake, 'keras', '__init__.py'), 'from . import callbacks\n');
  writeFileSync(path.join(fake, 'keras', 'callbacks.py'), 'class Callback:\n    def __init__(self):\n        self.params = {}\n');
  const api = await fakeApi(t);
  const run = await runPython(
    `import mlp
cb = mlp.keras_callback()
cb.params = {"epochs": 4, "steps": 10}   # what fit() sets
cb.on_train_begin()
for e in range(4):
    cb.on_epoch_end(e, {"loss": 1.0 / (e + 1), "accuracy": 0.25 * (e + 1), "val_accuracy": 0.1})
cb.on_train_end()
try:
    cb.on_epoch_end(4, {"loss": 0.1})
except ValueError as err:
    print("refused:", err)
`,
    { api: api.url, dirs: d, pythonPath: `${HERE}:${fake}` },
  );
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /refused: the fit logs have no accuracy .*metrics=\["accuracy"\]/);
  t.same(
    metricsOf(api.seen),
    [1, 2, 3, 4].map((e) => ({ epoch: e, accuracy: 0.25 * e, loss: 1 / e, progress: 25 * e })),
  );
  t.same(
    api.seen.filter((s) => s.method === 'PUT').map((s) => s.body),
    [25, 50, 75, 100].map((progress) => ({ state: 'running', progress })),
  );
});

t.test('params, dataset_path, home_path, resume_path; ".." and absolute parts refused', async (t) => {
  const d = dirs(t);
  const ckpt = path.join(d.workspace, 'ckpt');
  mkdirSync(path.join(ckpt, 'sub'), { recursive: true });
  const script = `import json, mlp
out = {"params": mlp.params(), "resume": mlp.resume_path(),
       "dataset": mlp.dataset_path("iris", "train", "x.csv"), "dataset2": mlp.dataset_path("iris", "train/x.csv"),
       "home": mlp.home_path("scripts", "a.py"), "homeRoot": mlp.home_path()}
refused = []
for call in [lambda: mlp.dataset_path("iris", ".."), lambda: mlp.dataset_path("iris", "a/../../b"), lambda: mlp.dataset_path(".."),
             lambda: mlp.dataset_path("iris", "/etc/passwd"), lambda: mlp.home_path("..", "x"), lambda: mlp.home_path("/etc")]:
    try:
        call()
    except ValueError as err:
        refused.append(str(err))
out["refused"] = refused
print(json.dumps(out))
`;
  const parse = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  const a = await runPython(script, { dirs: d, env: { MLP_PARAMS: '{"lr": 0.01, "layers": 3, "opt": "adam"}' } });
  t.equal(a.code, 0, a.stderr);
  const o = parse(a.stdout);
  t.same(o.params, { lr: 0.01, layers: 3, opt: 'adam' });
  t.equal(o.resume, null, 'no file under ckpt/: None');
  t.equal(o.dataset, path.join(d.datasets, 'iris', 'train', 'x.csv'));
  t.equal(o.dataset2, path.join(d.datasets, 'iris', 'train', 'x.csv'));
  t.equal(o.home, path.join(d.home, 'scripts', 'a.py'));
  t.equal(o.homeRoot, d.home);
  t.equal((o.refused as string[]).length, 6, JSON.stringify(o.refused));

  writeFileSync(path.join(ckpt, 'epoch-1.weights'), 'a');
  writeFileSync(path.join(ckpt, 'sub', 'epoch-2.weights'), 'b');
  writeFileSync(path.join(ckpt, '.mlp-tmp-model.onnx'), 'half written');
  utimesSync(path.join(ckpt, 'epoch-1.weights'), 1000, 1000);
  utimesSync(path.join(ckpt, 'sub', 'epoch-2.weights'), 2000, 2000);
  utimesSync(path.join(ckpt, '.mlp-tmp-model.onnx'), 3000, 3000);
  const b = await runPython(script, { dirs: d, env: { MLP_PARAMS: '' } });
  t.equal(b.code, 0, b.stderr);
  t.same(parse(b.stdout).params, {}, 'MLP_PARAMS empty: {}');
  t.equal(parse(b.stdout).resume, path.join(ckpt, 'sub', 'epoch-2.weights'), 'the newest file under ckpt/, a temporary one skipped');

  const c = await runPython('import mlp; print(mlp.params())', { dirs: d });
  t.equal(c.stdout.trim(), '{}', 'MLP_PARAMS unset: {}');
  const bad = await runPython('import mlp; mlp.params()', { dirs: d, env: { MLP_PARAMS: '[1, 2]' } });
  t.not(bad.code, 0);
  t.match(bad.stderr, /MLP_PARAMS must be a JSON object/);
});

t.test('a 403 {msg} from the API is a Python exception carrying the msg', async (t) => {
  const d = dirs(t);
  const api = await fakeApi(t, (s) => (s.method === 'PUT' ? { status: 403, body: { msg: 'job train is finished' } } : { status: 200 }));
  const caught = await runPython(
    `import mlp
try:
    mlp.heartbeat(10)
except mlp.Refused as err:
    print("caught:", err.msg, "|", err)
`,
    { api: api.url, dirs: d },
  );
  t.equal(caught.code, 0, caught.stderr);
  t.match(caught.stdout, /^caught: job train is finished \| PUT \/api\/v1\/users\/alice\/jobs\/train:heartbeat refused: job train is finished$/m);
  t.equal(api.seen.filter((s) => s.method === 'PUT').length, 1, 'a 403 is not retried');

  const uncaught = await runPython('import mlp\nmlp.heartbeat(10)\n', { api: api.url, dirs: d });
  t.not(uncaught.code, 0, 'an uncaught refusal ends the script non-zero');
  t.match(uncaught.stderr, /mlp\._client\.Refused: .*job train is finished/);

  const refuser = await fakeApi(t, (s) => (s.method === 'POST' ? { status: 403, body: { msg: 'too many metrics for job train' } } : { status: 200 }));
  const atExit = await runPython('import mlp\nmlp.log(1, accuracy=0.5, loss=1.0, progress=1)\n', { api: refuser.url, dirs: d });
  t.equal(atExit.code, 1, 'metrics refused at the exit flush: status 1, not a silent finish');
  t.match(atExit.stderr, /metrics were refused by the platform: too many metrics for job train/);

  const next = await runPython(
    `import mlp
mlp.log(1, accuracy=0.5, loss=1.0, progress=1)
try:
    mlp.flush()
except mlp.Refused as err:
    print("caught:", err.msg)
`,
    { api: refuser.url, dirs: d },
  );
  t.equal(next.code, 0, 'raised once, by flush(); nothing left to refuse at exit');
  t.match(next.stdout, /^caught: too many metrics for job train$/m);
});

t.test('faults (503 {msg}) are retried; past the outage limit they raise with the msg', async (t) => {
  const d = dirs(t);
  const flaky = await fakeApi(t, (_s, i) => (i < 2 ? { status: 503, body: { msg: 'the store is unavailable' } } : { status: 200 }));
  const ok = await runPython('import mlp\nmlp.heartbeat(5)\n', { api: flaky.url, dirs: d });
  t.equal(ok.code, 0, ok.stderr);
  t.same(
    flaky.seen.map((s) => s.body),
    [
      { state: 'running', progress: 5 },
      { state: 'running', progress: 5 },
      { state: 'running', progress: 5 },
    ],
    'two 503s, then accepted',
  );

  const down = await fakeApi(t, () => ({ status: 503, body: { msg: 'the store is unavailable' } }));
  const gaveUp = await runPython(
    `import mlp, mlp._client
mlp._client.OUTAGE_S = 1.0
try:
    mlp.heartbeat(5)
except mlp.Refused:
    print("wrongly refused")
except mlp.PlatformError as err:
    print("gave up:", err.status, err.msg, "|", err)
`,
    { api: down.url, dirs: d },
  );
  t.equal(gaveUp.code, 0, gaveUp.stderr);
  t.match(gaveUp.stdout, /^gave up: 503 the store is unavailable \| PUT .*:heartbeat failed after \d+ attempts in 1 s: 503 the store is unavailable$/m);

  const metricsLater = await fakeApi(t, (_s, i) => (i < 2 ? { status: 503, body: { msg: 'restarting' } } : { status: 200 }));
  const buffered = await runPython('import mlp\nmlp.log(1, accuracy=0.5, loss=1.0, progress=1)\nmlp.log(2, accuracy=0.6, loss=0.9, progress=2)\n', { api: metricsLater.url, dirs: d });
  t.equal(buffered.code, 0, buffered.stderr);
  t.match(buffered.stderr, /publishing metrics failed .*restarting/);
  const delivered = metricsOf(metricsLater.seen.slice(2));
  t.same(
    delivered.map((m) => m.epoch),
    [1, 2],
    'kept through the outage and sent once it ends',
  );
});

t.test('outside the platform: printed only; import mlp loads no framework', async (t) => {
  const d = dirs(t);
  const run = await runPython(
    `import sys, mlp
mlp.log(3, accuracy=0.5, loss=0.25, progress=30)
mlp.heartbeat(30)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("numpy", "keras", "tensorflow", "sklearn", "torch", "onnxruntime"))
print("heavy:", heavy)
try:
    mlp.keras_callback()
except ImportError as err:
    print("no keras:", err)
for bad in [dict(epoch=-1, accuracy=0.5, loss=1), dict(epoch=10000, accuracy=0.5, loss=1), dict(epoch=1, accuracy=float("nan"), loss=1), dict(epoch=1, loss=1), dict(epoch=1.5, accuracy=0.5, loss=1)]:
    try:
        mlp.log(**bad)
        print("accepted", bad)
    except (TypeError, ValueError) as err:
        print("refused:", err)
`,
    { dirs: d },
  );
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /^epoch 3 accuracy 0\.5 loss 0\.25 progress 30$/m);
  t.match(run.stdout, /^heavy: \[\]$/m);
  t.match(run.stdout, /^no keras: mlp\.keras_callback needs Keras/m);
  t.notMatch(run.stdout, /accepted/);
  t.equal(run.stdout.match(/^refused:/gm)?.length, 5);
});
