import path from 'node:path';
import { tfJobCommand, tfJobEnv } from '../../templates/runtime-tf/command.js';
import { Invalid } from '../errors.js';

/**
 * API.md §5: the entry runs under its runtime; locally `.mjs`/`.js` with node, `.py` with
 * python3. Node entries of runtime tf can import `@tensorflow/tfjs` and `@mlp/runtime`
 * without installing anything (templates/runtime-tf/).
 */
export function commandFor(entryFile: string): string[] {
  const ext = path.extname(entryFile);
  if (ext === '.mjs' || ext === '.js') return tfJobCommand(entryFile);
  if (ext === '.py') return ['python3', entryFile];
  throw new Invalid(`runtime tf runs .mjs, .js or .py entries, not ${ext || 'a file without extension'}`);
}

/** Environment the runtime adds to the job's MLP_* variables (NODE_PATH for CommonJS `require` of tfjs). */
export function runtimeEnvFor(entryFile: string): Record<string, string> {
  const ext = path.extname(entryFile);
  return ext === '.mjs' || ext === '.js' ? tfJobEnv() : {};
}

/** Relative, inside the home, no `..` segments (API.md §5 Decision). */
export const ENTRY = '^[A-Za-z0-9._/-]{1,200}$';

export function checkEntry(entry: string): void {
  if (entry.startsWith('/') || entry.split('/').some((s) => s === '..' || s === '' || s === '.')) {
    throw new Invalid(`entry "${entry}" must be a relative path inside your home, without . or .. segments`);
  }
}
