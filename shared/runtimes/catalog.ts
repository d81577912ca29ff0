import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Invalid } from '../core/errors.js';

/** The runtimes a job may ask for: `tf` (TensorFlow, Keras, scikit-learn; tfjs for JavaScript) and `torch` (PyTorch). */
export const RUNTIMES = ['tf', 'torch'] as const;
export type Runtime = (typeof RUNTIMES)[number];

// The checkout: from source shared/runtimes/ is two levels down; built, dist/shared/runtimes/ is
// three (the Python files are not compiled, so they are read from the checkout's templates/).
const HERE = path.resolve(fileURLToPath(new URL('../../', import.meta.url)));
const CHECKOUT = import.meta.url.endsWith('.js') && path.basename(HERE) === 'dist' ? path.dirname(HERE) : HERE;

/** The helper module `mlp` lives here: a Python entry gets it on PYTHONPATH. */
export const PY_HELPER_DIR = path.join(CHECKOUT, 'templates', 'runtime-py');

/** The pinned requirements of a runtime's Python environment (also what its image installs). */
export function requirementsFile(runtime: Runtime): string {
  return path.join(PY_HELPER_DIR, `requirements-${runtime}.txt`);
}

/** What must import in a runtime's environment for it to count as built (a smoke test of the whole). */
export const SMOKE_IMPORTS: Record<Runtime, string[]> = {
  tf: ['mlp', 'numpy', 'pandas', 'tensorflow', 'keras', 'sklearn', 'tf2onnx', 'skl2onnx', 'onnx', 'onnxruntime'],
  torch: ['mlp', 'numpy', 'torch', 'onnx', 'onnxscript', 'onnxruntime'],
};

export type EntryKind = 'node' | 'python';

/** Which interpreter an entry needs under a runtime, or Invalid saying what the runtime runs. */
export function entryKind(runtime: Runtime, entryFile: string): EntryKind {
  const ext = path.extname(entryFile);
  if (ext === '.py') return 'python';
  if (runtime === 'tf' && (ext === '.mjs' || ext === '.js')) return 'node';
  const runs = runtime === 'tf' ? '.py, .mjs or .js entries' : '.py entries';
  throw new Invalid(`runtime ${runtime} runs ${runs}, not ${ext || 'a file without extension'}`);
}

/**
 * The variable that turns ONNX Runtime's telemetry off. Its Linux build (Node's and Python's alike)
 * otherwise reports over HTTPS and leaves a device id (.ses) and mat-debug-<pid>.log in TMPDIR.
 */
export const ORT_TELEMETRY_OFF = { name: 'ORT_DISABLE_TELEMETRY', value: '1' } as const;
