import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../config/load.js';
import { createDeps } from '../wiring/deps.js';
import { Unavailable } from '../core/errors.js';
import { createLogger, memorySink } from '../core/log.js';
import type { Runtimes } from '../runtimes/port.js';
import { uncredentialedKubernetes } from './kube-uncredentialed.js';

t.test('without credentials: the Service address still works, everything else is refused saying why', async (t) => {
  const o = uncredentialedKubernetes({ namespace: 'mlp', endpointMode: 'service', why: 'no token' });
  t.equal(o.kind, 'kubernetes');
  t.equal(o.endpoint('abc', 8501), 'mlp-app-abc.mlp.svc:8501');
  await t.rejects(o.start({ id: 'x', kind: 'job', labels: {}, command: ['true'], workdir: '/', env: {}, logFile: '/dev/null', resources: { cpu: 1, gpu: 0, ram: 100 } }), Unavailable);
  await t.rejects(o.status('x'), /cannot read workload status: it has no Kubernetes credentials \(no token\)/);
  t.throws(() => o.watch(() => {}), /cannot watch workloads/);
  const pod = uncredentialedKubernetes({ namespace: 'mlp', endpointMode: 'pod', why: 'no token' });
  t.throws(() => pod.endpoint('abc', 8501), /MLP_KUBE_ENDPOINT=pod reads pods from the API/);
});

t.test('createDeps: a function without a kubeconfig cluster starts, with the uncredentialed orchestrator', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mlp-nocreds-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'none.kubeconfig');
  writeFileSync(kubeconfig, 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n');
  const before = process.env.KUBECONFIG;
  process.env.KUBECONFIG = kubeconfig;
  t.teardown(() => {
    if (before === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = before;
  });
  const config = loadConfig({ MLP_ROOT: path.join(dir, 'root'), MLP_ORCHESTRATOR: 'kubernetes' });
  // No job or app starts here, and shared/ does not import templates/ (shared/wiring/layers.test.ts): no runtimes.
  const deps = await createDeps(config, createLogger({ component: 'test', sinks: [memorySink()] }), { runtimes: {} as Runtimes });
  t.teardown(() => deps.close());
  t.equal(deps.orchestrator.kind, 'kubernetes');
  t.equal(deps.orchestrator.endpoint('abc', 1), 'mlp-app-abc.mlp.svc:1');
  await t.rejects(deps.orchestrator.stop('x'), /no Kubernetes credentials/);
});
