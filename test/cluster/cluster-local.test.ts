import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import t from 'tap';
import { irisWalkthrough } from '../helpers/iris.js';
import { until } from '../helpers/poll.js';
import { call, withDatabase } from '../helpers/platform.js';
import { spawnTs } from '../helpers/process.js';
import { clusterInfra, startClusterLocal } from '../helpers/cluster.js';

// `npm run cluster:local` as a user runs it: every function its own process behind Nginx,
// FerretDB, Kafka, a real kube-apiserver with kube-controller-manager, MLP_ORCHESTRATOR=kubernetes,
// and the test kubelet stand-in running the pods (the only stand-in). Then the README's
// walk-through end to end: submit → metrics → model → app → predict, through the mlp client.
const REPO = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(REPO, 'bin/src/main.ts');
const infra = clusterInfra();

/** The API server cluster:local runs, as its printed KUBECONFIG reaches it (the admin's). */
function kubeClient(kubeconfig: string): k8s.CoreV1Api {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc.makeApiClient(k8s.CoreV1Api);
}

if (!infra) {
  t.plan(0, 'needs MLP_TEST_KUBE, MLP_TEST_MONGO_URL and MLP_TEST_KAFKA_BROKERS (npm test sets them)');
} else {
  // Fifty function processes, four servers and a model trained in a pod: longer than the 300 s default.
  t.setTimeout(20 * 60_000);
  const { mongo, kafka } = infra;
  t.test('cluster:local runs the walk-through with every function in its own process on Kubernetes', async (t) => {
    const work = mkdtempSync(path.join(tmpdir(), 'mlp-cluster-test-'));
    t.teardown(() => rmSync(work, { recursive: true, force: true }));
    const cluster = await startClusterLocal({
      MLP_ROOT: path.join(work, 'root'),
      MLP_MONGO_URL: withDatabase(mongo, `cluster${process.pid}`),
      MLP_KAFKA_BROKERS: kafka,
      MLP_METRICS_TOPIC: `mlp.cluster-test-${process.pid}`,
      MLP_TENANT_CPU: '4',
    });
    t.teardown(() => cluster.kill()); // whatever of the group is still there (a failed test)
    const gateway = cluster.url;
    const out = cluster.output();
    t.match(out, `gateway:     ${gateway}/`, 'it prints the gateway URL');
    t.match(out, /kubernetes:\s+https:\/\/127\.0\.0\.1:\d+/, 'and the API server it runs the workloads on');

    t.equal((await call(gateway, 'POST', '/api/v1/users', { body: { username: 'alice', password: 'password1' } })).status, 201);
    const env = { MLP_CLIENT_CONFIG: path.join(work, 'config.json') };
    const mlp = async (...args: string[]) => {
      const run = spawnTs(t, MAIN, env, args);
      const { code } = await run.exited;
      return { code, out: run.output() };
    };
    await irisWalkthrough(t, { url: gateway, appUrl: cluster.appUrl, work, mlp });

    // A Python job in its runtime's image (the stand-in lays the runtime's environment at
    // /opt/mlp/venv, as templates/runtime-tf/Dockerfile does): examples/iris-sklearn trains with
    // the helper `mlp`, its ONNX model is served by the model server's pod, and predicts.
    const ok = async (...args: string[]) => {
      const r = await mlp(...args);
      t.equal(r.code, 0, `mlp ${args.join(' ')}${r.code === 0 ? '' : `: ${r.out}`}`);
      return r.out;
    };
    await ok('home', 'put', path.join(REPO, 'examples/iris-sklearn/train.py'));
    await ok('job', 'submit', 'sklearn', '--entry', 'train.py', '--runtime', 'tf', '--cpu', '1', '--ram', '1000');
    const pyMetrics = await ok('job', 'metrics', 'sklearn', '--follow');
    t.match(pyMetrics, /job sklearn is finished$/m, `the Python job finished on Kubernetes: ${pyMetrics.slice(-300)}`);
    t.ok([...pyMetrics.matchAll(/epoch\s+\d+\s+accuracy/g)].length >= 10, 'its metrics arrived through the API, epoch by epoch');
    await ok('model', 'create', 'sklearn', '--src', 'sklearn');
    const appCreated = await mlp('app', 'create', 'sklearn', '--model', 'sklearn', '--cpu', '0.5', '--ram', '500');
    const serverLog = path.join(work, 'root', 'apps', 'alice', 'sklearn', 'log', 'server.log');
    t.equal(appCreated.code, 0, `mlp app create sklearn: ${appCreated.out}; the server's log: ${existsSync(serverLog) ? readFileSync(serverLog, 'utf8').slice(-2000) : 'none'}`);
    const flower = path.join(work, 'flower.json');
    writeFileSync(
      flower,
      JSON.stringify([
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
      ]),
    );
    const pyAnswer = JSON.parse(await ok('app', 'predict', 'sklearn', flower)) as { predictions: { label: number; probabilities: number[] }[] };
    t.same(
      pyAnswer.predictions.map((p) => p.label),
      [0, 2],
      'the ONNX model served from its pod names a setosa and a virginica',
    );
    await ok('app', 'rm', 'sklearn');
    await until(
      () => ok('app', 'ls'),
      (out) => /no apps/.test(out),
      "the Python model's app going away",
      { ms: 200, tries: 300 },
    );

    // Jobs that fail and jobs stopped, as pods: the exit code decides, a stop deletes the pod.
    const token = (await call(gateway, 'GET', '/api/v1/users/alice/token', { basic: ['alice', 'password1'] })).json as string;
    const jobs = (method: string, suffix = '', body?: unknown) => call(gateway, method, `/api/v1/users/alice/jobs${suffix}`, { token, body });
    const scripts: [string, string][] = [
      ['broken.mjs', "console.log('boom'); process.exit(2);"],
      ['forever.mjs', "console.log('started'); setInterval(() => {}, 1000);"],
    ];
    for (const [name, text] of scripts) {
      writeFileSync(path.join(work, name), text);
      t.equal((await mlp('home', 'put', path.join(work, name))).code, 0, `home put ${name}`);
    }
    t.equal((await jobs('POST', '', { name: 'broken', entry: 'broken.mjs', cpu: 0.5 })).status, 201);
    const broken = await until(
      () => jobs('GET', '/broken'),
      (a) => /error|finished/.test((a.json as { state: string }).state),
      'the broken job ending',
      { ms: 500, tries: 240 },
    );
    t.match(broken.json, { state: 'error', msg: /exit code 2/ }, 'a pod exiting 2 ends its job in error, saying so');
    t.match((await jobs('GET', '/broken/log')).text, 'boom', "the pod's output is the job's log");

    t.equal((await jobs('POST', '', { name: 'forever', entry: 'forever.mjs', cpu: 1 })).status, 201);
    await until(
      () => jobs('GET', '/forever/log'),
      (a) => a.text.includes('started'),
      'the forever job running',
      { ms: 500, tries: 240 },
    );
    const core = kubeClient(cluster.kubeconfig);
    const podsOf = async (job: string) => (await core.listNamespacedPod({ namespace: 'mlp', labelSelector: `mlp/user=alice,mlp/job=${job}` })).items;
    t.equal((await podsOf('forever')).length, 1, 'the running job is a pod labelled with its user and name');
    t.match((await jobs('PUT', '/forever:stop', {})).json, { state: 'error', msg: 'stopped by user' });
    // The orchestrator keeps the stopped pod (a finalizer) until the job is deleted, so every
    // function reads "stopped" from the API; its container is killed and the pod ends Failed.
    const ended = await until(podsOf.bind(null, 'forever'), (pods) => pods[0]?.status?.phase === 'Failed', "the stopped job's pod ending", { ms: 500, tries: 240 });
    t.ok(ended[0]?.metadata?.deletionTimestamp, 'stopping the job deleted its pod');
    t.ok(ended[0]?.status?.containerStatuses?.[0]?.state?.terminated, 'and its container was ended');
    t.equal((await jobs('DELETE', '/forever')).status, 200);
    await until(podsOf.bind(null, 'forever'), (pods) => pods.length === 0, "the deleted job's pod going away", { ms: 500, tries: 240 });
    t.pass('deleting the job removed its pod');
    const tenant = await until(
      () => call(gateway, 'GET', '/api/v1/tenants/default', { token }),
      (a) => (a.json as { cpu_inuse: number }).cpu_inuse === 0,
      'every reservation given back',
      { ms: 500, tries: 240 },
    );
    t.match(tenant.json, { cpu_inuse: 0, gpu_inuse: 0, ram_inuse: 0 }, 'with the app deleted and the jobs ended, the tenant holds nothing');

    // As Ctrl-C in a terminal does: the whole process group gets the signal (npm, the script and
    // everything it started). The script stops what it started; then no process of the group is left.
    await cluster.signal('SIGTERM');
    t.notOk(cluster.alive(), 'no process it started is left (functions, nginx, kube-apiserver, kine, controller-manager, the stand-in)');
    t.match(cluster.output(), /stopping \(SIGTERM\)/, 'it said it was stopping');
  });
}
