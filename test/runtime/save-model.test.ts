import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { loadConfig } from '../../shared/config/load.js';
import { createLogger, memorySink } from '../../shared/core/log.js';
import { PY_HELPER_DIR, type Runtime } from '../../shared/runtimes/catalog.js';
import { createPythonEnvs } from '../../shared/runtimes/python-env.js';

// mlp.save_model in the runtimes' real environments (test/runtime/check_save_model.py says what
// each check does): a Keras model with a Normalization layer, scikit-learn classifiers and a
// regressor, a PyTorch module with buffers and dropout; exports that differ from the framework
// raise ModelMismatch and leave no model.onnx. The environments are the ones jobs run in
// (`npm test` builds them first; otherwise the first run here builds them).
t.setTimeout(30 * 60_000);
const config = loadConfig(process.env);
const envs = createPythonEnvs({ cache: config.runtimeCache, python: config.python, log: createLogger({ component: 'test', sinks: [memorySink()] }) });
const CHECK = path.join(import.meta.dirname, 'check_save_model.py');

for (const [runtime, wanted] of [
  [
    'tf',
    [
      'keras Sequential (Normalization, Dense)',
      'sklearn LogisticRegression',
      'sklearn RandomForestClassifier',
      'sklearn GradientBoostingRegressor',
      'a mismatching export raises ModelMismatch',
      'a non-model raises TypeError',
    ],
  ],
  ['torch', ['torch Module with buffers and dropout', 'a torch export that differs raises ModelMismatch', 'a non-model raises TypeError']],
] as [Runtime, string[]][]) {
  t.test(`save_model in runtime ${runtime}`, async (t) => {
    const python = await envs.ensure(runtime);
    // TMPDIR of its own: ONNX Runtime's telemetry would leave .ses and mat-debug-*.log there.
    const tmp = mkdtempSync(path.join(tmpdir(), 'mlp-save-model-'));
    t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
    const r = spawnSync(python, [CHECK, runtime], {
      cwd: tmp,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: PY_HELPER_DIR, PYTHONDONTWRITEBYTECODE: '1', TF_CPP_MIN_LOG_LEVEL: '2', TMPDIR: tmp },
      timeout: 20 * 60_000,
    });
    const out = `${r.stdout}${r.stderr}`;
    t.equal(r.status, 0, `exit 0 (${out.slice(-3000)})`);
    for (const name of wanted) t.match(out, new RegExp(`^ok   ${name.replace(/[()]/g, '\\$&')}`, 'm'), `ok: ${name}`);
    t.notMatch(out, /^FAIL/m, 'no check failed');
    t.match(out, /^all checks passed$/m);
    t.same(
      readdirSync(tmp).filter((f) => f === '.ses' || f.startsWith('mat-debug')),
      [],
      "the helper turned ONNX Runtime's telemetry off: it left no device id or debug log",
    );
  });
}
