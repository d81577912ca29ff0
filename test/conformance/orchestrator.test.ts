import t from 'tap';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { createLocalOrchestrator } from '../../shared/orchestrator/local.js';
import { orchestratorConformance } from './orchestrator-suite.js';

// The Kubernetes adapter runs this suite in test/kube/orchestrator-kubernetes.test.ts (real API server, test kubelet stand-in).
t.test('local orchestrator (child processes)', (t) => {
  orchestratorConformance(t, async () => createLocalOrchestrator({ log: createLogger({ component: 'test', sinks: [memorySink()] }), graceMs: 1000 }));
  t.end();
});
