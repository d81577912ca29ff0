import { Invalid } from '../core/errors.js';
import { entryKind, ORT_TELEMETRY_OFF, PY_HELPER_DIR, type Runtime } from '../runtimes/catalog.js';
import type { Runtimes } from '../runtimes/port.js';

/**
 * The entry runs under its runtime: `.mjs`/`.js` with node (runtime tf only: `@tensorflow/tfjs` and
 * `@mlp/runtime` import without an install; the runtimes port's nodeJobs, templates/runtime-tf/), `.py` with the Python of the
 * runtime's environment (`python`: locally the interpreter of the environment the platform built,
 * shared/runtimes/python-env.ts; on Kubernetes the runtime image's `python` on PATH), the helper
 * `mlp` importable (templates/runtime-py/).
 */
export function commandFor(runtimes: Runtimes, runtime: Runtime, entryFile: string, python = 'python'): string[] {
  return entryKind(runtime, entryFile) === 'node' ? runtimes.nodeJobs.command(entryFile) : [python, entryFile];
}

/** Environment the runtime adds to the job's MLP_* variables. */
export function runtimeEnvFor(runtimes: Runtimes, runtime: Runtime, entryFile: string): Record<string, string> {
  if (entryKind(runtime, entryFile) === 'node') return runtimes.nodeJobs.env(); // NODE_PATH: CommonJS entries `require` the platform's tfjs
  return {
    PYTHONPATH: PY_HELPER_DIR,
    // Output reaches log/job.log (and `mlp job logs --follow`) as it is printed.
    PYTHONUNBUFFERED: '1',
    // The home is read-only: no __pycache__ attempts there.
    PYTHONDONTWRITEBYTECODE: '1',
    // A writable home of its own (the sandbox's private /tmp): Keras, matplotlib… keep settings under ~.
    HOME: '/tmp',
    // onnxruntime (save_model's check) would report telemetry and leave files in /tmp otherwise.
    [ORT_TELEMETRY_OFF.name]: ORT_TELEMETRY_OFF.value,
  };
}

/** Relative, inside the home, no `..` segments. */
export const ENTRY = '^[A-Za-z0-9._/-]{1,200}$';

export function checkEntry(entry: string): void {
  if (entry.startsWith('/') || entry.split('/').some((s) => s === '..' || s === '' || s === '.')) {
    throw new Invalid(`entry "${entry}" must be a relative path inside your home, without . or .. segments`);
  }
}
